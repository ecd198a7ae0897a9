"""Forward-looking targets per horizon h (trading days), from the close of d:

- return_{h}d: close[d+h] / close[d] - 1;
- risk_adj_return_{h}d: return_{h}d / (trailing daily-return std * sqrt(h)): the forward return in units
  of the volatility known at d, scaled to the horizon (returns over returns, not over a price std);
- significant_move_{h}d: |return_{h}d| > trailing daily-return std * sqrt(h);
- direction_{h}d: return_{h}d > 0;
- excess_return_{h}d: return_{h}d less the equal-weighted mean of return_{h}d over the universe's names
  with a target that date (cross-sectional: what a long-short or top-k portfolio earns over 1/N);
- rank_{h}d: the percentile of return_{h}d among those names that date, in (0, 1] (ties: average).
Trailing std: sample std of the VOL_WINDOW daily returns ending at d. Every target is NULL where the
horizon runs past the data (or, for the volatility-scaled ones, before VOL_WINDOW returns exist).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.features import rolling
from portfolio_dagster.quant.panel import long, wide

VOL_WINDOW = 63
TARGET_KINDS = ("return", "risk_adj_return", "significant_move", "direction", "excess_return", "rank")
# What the models may learn (models.target): the forward return, or one of its cross-sectional forms.
MODEL_TARGET_KINDS = ("return", "excess_return", "rank")
LABEL_KINDS = ("significant_move", "direction")  # booleans; the others are DOUBLE


def target_name(horizon: int, kind: str = "return") -> str:
    """The column of a target: `<kind>_<horizon>d` (return_5d, direction_21d, ...)."""
    return f"{kind}_{horizon}d"


def target_columns(horizons: tuple[int, ...]) -> list[str]:
    """Every target column for `horizons`, each horizon's kinds in TARGET_KINDS order."""
    return [target_name(h, k) for h in horizons for k in TARGET_KINDS]


def compute(prices: pd.DataFrame, horizons: tuple[int, ...]) -> pd.DataFrame:
    """Long prices -> long targets (ticker, date, *target_columns) for every priced (ticker, date)."""
    close = wide(prices, "close")
    c = close.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        vol = rolling.running_std(c / rolling.lag(c, 1) - 1.0, VOL_WINDOW)
        panels = {}
        for h in horizons:
            fwd = np.full_like(c, np.nan)
            fwd[:-h] = c[h:] / c[:-h] - 1.0 if h < len(c) else np.nan
            scale = vol * np.sqrt(h)
            panels[target_name(h)] = fwd
            panels[target_name(h, "risk_adj_return")] = np.where(scale > 0, fwd / scale, np.nan)
            panels[target_name(h, "significant_move")] = np.where(
                np.isnan(fwd) | np.isnan(scale), np.nan, np.abs(fwd) > scale
            )
            panels[target_name(h, "direction")] = np.where(np.isnan(fwd), np.nan, fwd > 0)
            known = np.isfinite(fwd)
            mean = np.where(known, fwd, 0.0).sum(axis=1, keepdims=True) / known.sum(axis=1, keepdims=True)
            panels[target_name(h, "excess_return")] = fwd - mean
            panels[target_name(h, "rank")] = pd.DataFrame(fwd).rank(axis=1, pct=True).to_numpy()
    frames = {k: pd.DataFrame(v, index=close.index, columns=close.columns) for k, v in panels.items()}
    out = long(frames, dropna_all=False)
    out = out.merge(
        prices[["ticker", "date"]].assign(date=lambda f: pd.to_datetime(f["date"])), on=["ticker", "date"]
    ).reset_index(drop=True)
    for h in horizons:
        for kind in LABEL_KINDS:
            col = target_name(h, kind)
            out[col] = out[col].astype("boolean")
    return out


def keep_stored(stored: pd.DataFrame, fresh: pd.DataFrame, before: pd.Timestamp) -> pd.DataFrame:
    """`fresh` (ticker, date, target columns), except that on rows dated before `before` a value already
    `stored` is kept as stored: the refresh before a range only completes targets the range's prices
    realize (NULL until then), so re-running a range leaves the rows before it bit-identical."""
    if stored.empty:
        return fresh
    key = ["ticker", "date"]
    earlier = fresh[fresh["date"] < before].set_index(key)
    prior = stored.assign(date=pd.to_datetime(stored["date"])).set_index(key).reindex(earlier.index)
    for column in earlier.columns:
        if column in prior.columns:
            kept = prior[column].astype(earlier[column].dtype)
            earlier[column] = kept.where(kept.notna(), earlier[column])
    return pd.concat([earlier.reset_index(), fresh[fresh["date"] >= before]], ignore_index=True)[
        fresh.columns
    ]
