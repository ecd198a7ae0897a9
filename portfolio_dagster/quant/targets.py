"""Forward-looking targets: the return from the close of d to the close h trading days later."""

from __future__ import annotations

import pandas as pd

from portfolio_dagster.quant.panel import long, wide


def target_name(horizon: int) -> str:
    return f"return_{horizon}d"


def compute(prices: pd.DataFrame, horizons: tuple[int, ...]) -> pd.DataFrame:
    """Long prices -> long targets; NULL where the horizon runs past the data."""
    close = wide(prices, "close")
    panels = {target_name(h): close.shift(-h) / close - 1.0 for h in horizons}
    out = long(panels, dropna_all=False)
    return out[out["ticker"].isin(close.columns)].merge(
        prices[["ticker", "date"]], on=["ticker", "date"]).reset_index(drop=True)
