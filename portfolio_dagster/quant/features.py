"""Point-in-time features: every value at date d uses only closes dated <= d."""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.panel import long, wide

RETURN_WINDOWS = (1, 5, 21, 63)
VOL_WINDOWS = (21, 63)
FEATURE_NAMES: tuple[str, ...] = (
    *(f"ret_{w}d" for w in RETURN_WINDOWS),
    *(f"vol_{w}d" for w in VOL_WINDOWS),
    "bollinger_position",
)
# Longest window any feature needs, in trading days.
LOOKBACK = max(*RETURN_WINDOWS, *VOL_WINDOWS) + 1


def compute(prices: pd.DataFrame) -> pd.DataFrame:
    """Long prices (ticker, date, close) -> long features (ticker, date, *FEATURE_NAMES)."""
    close = wide(prices, "close")
    daily = close.pct_change(fill_method=None)
    panels: dict[str, pd.DataFrame] = {}
    for w in RETURN_WINDOWS:
        panels[f"ret_{w}d"] = close / close.shift(w) - 1.0
    for w in VOL_WINDOWS:
        # Volatility of returns (not of price levels), annualized.
        panels[f"vol_{w}d"] = daily.rolling(w, min_periods=w).std() * np.sqrt(252)
    mean20 = close.rolling(20, min_periods=20).mean()
    std20 = close.rolling(20, min_periods=20).std()
    panels["bollinger_position"] = (close - mean20) / (2.0 * std20)
    out = long(panels)
    out = out[out[list(FEATURE_NAMES)].notna().any(axis=1)]
    return out.replace([np.inf, -np.inf], np.nan).reset_index(drop=True)
