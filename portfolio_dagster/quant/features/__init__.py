"""Point-in-time features per (ticker, date): the seed's features, a broad Alpha158-style library and
cross-sectional ranks. A value at date d uses only prices dated <= d (and, for market features, the
market's returns dated <= d). Vectorized over all tickers at once on date x ticker arrays.

    compute(prices, market_close=None) -> long frame (ticker, date, *FEATURE_NAMES)
    selected_feature_names(selected) -> the model inputs named by config `features.selected`
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from portfolio_dagster.quant.features import cross_section, library, seed
from portfolio_dagster.quant.features.inputs import PRICE_FIELDS, panels
from portfolio_dagster.quant.features.registry import FeatureSpec

SPECS: tuple[FeatureSpec, ...] = (*seed.SPECS, *library.SPECS, *cross_section.SPECS)
FEATURE_NAMES: tuple[str, ...] = tuple(s.name for s in SPECS)
SEED_FEATURE_NAMES: tuple[str, ...] = tuple(s.name for s in seed.SPECS)
# Rows of history the slowest feature needs before its first value: the lookback of an incremental run.
LOOKBACK: int = max(s.history for s in SPECS)
# Feature values are stored as float32 (the warehouse's FLOAT): half the memory and disk of float64.
STORAGE_DTYPE = np.float32
TICKER_BLOCK = 64  # tickers computed together: bounds the float64 working set (~150 arrays of dates x 64)

# The default model inputs (config features.selected): the seed's features (adx_14 covers both
# sources) plus informative library features that close-only data defines, 30 in all. Training on all of
# FEATURE_NAMES costs ~5x the model stage's time (permutation importance scales with the width); set
# features.selected: null for it.
DEFAULT_MODEL_FEATURES: tuple[str, ...] = (
    "momentum_20d",
    "adx_14",
    "bollinger_position",
    "vol_ratio_10_63",
    "hurst_100",
    "vr_2",
    "vr_5",
    "vr_10",
    "ret_1d",
    "ret_5d",
    "ret_60d",
    "ret_252d",
    "ma_ratio_5",
    "ma_ratio_60",
    "trend_r2_20",
    "gain_ratio_10",
    "vol_20d",
    "vol_252d",
    "downside_vol_60d",
    "skew_60d",
    "range_pos_20",
    "rank_60",
    "high_age_60",
    "drawdown_252d",
    "mkt_beta_252d",
    "mkt_corr_60d",
    "idio_vol_60d",
    "cs_rank_momentum_20d",
    "cs_rank_ret_252d",
    "cs_z_vol_60d",
)


def selected_feature_names(selected: Sequence[str] | None) -> tuple[str, ...]:
    """The model inputs for config `features.selected` (None: every feature), in FEATURE_NAMES order."""
    if selected is None:
        return FEATURE_NAMES
    unknown = sorted(set(selected) - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"unknown feature name(s) in features.selected: {', '.join(unknown)}")
    chosen = set(selected)
    return tuple(n for n in FEATURE_NAMES if n in chosen)


# Price fields a source may not deliver (the bundled sample is close-only).
OPTIONAL_FIELDS = ("open", "high", "low", "volume")
_SPEC_BY_NAME = {s.name: s for s in SPECS}


def history_of(name: str) -> int:
    """The closes feature `name` reads (its warm-up)."""
    return _SPEC_BY_NAME[name].history


def window_of(name: str) -> int:
    """Feature `name`'s window (its warm-up when it has none): as many unchanged closes in a row make a
    ratio of its moves 0/0."""
    spec = _SPEC_BY_NAME[name]
    return spec.window or spec.history


def required_fields(name: str) -> frozenset[str]:
    """The optional price fields (OPTIONAL_FIELDS) feature `name` is undefined without: a field it reads
    with a close fallback is not required; a feature of other features needs what they need."""
    needed: set[str] = set()
    for part in _SPEC_BY_NAME[name].inputs.split(","):
        part = part.strip()
        if part in _SPEC_BY_NAME:
            needed |= required_fields(part)
        elif part in OPTIONAL_FIELDS:  # "high (close where absent)" is not required
            needed.add(part)
    return frozenset(needed)


def compute_panels(prices: pd.DataFrame, market_close: pd.Series | None = None):
    """(Panels, name -> date x ticker float64 array) for every feature, all tickers at once."""
    p = panels(prices, market_close)
    values = seed.compute(p) | library.compute(p)
    values |= cross_section.compute(values)
    return p, values


def compute(
    prices: pd.DataFrame,
    market_close: pd.Series | None = None,
    dtype: type = STORAGE_DTYPE,
    since: object | None = None,
) -> pd.DataFrame:
    """Long prices (ticker, date, close[, open, high, low, volume]) -> long features
    (ticker, date, *FEATURE_NAMES), one row per priced (ticker, date), sorted by ticker then date.
    market_close: the benchmark's close indexed by date; None: the equal-weight universe return.
    since: output only dates >= since (the rows before are history for the windows); None: all.

    Computed in float64 over blocks of TICKER_BLOCK tickers (bounded working memory), stored as
    `dtype` (default float32, the warehouse's FLOAT and the precision the tree models use)."""
    if prices.empty or (since is not None and pd.Timestamp(prices["date"].max()) < pd.Timestamp(since)):
        return pd.DataFrame(columns=["ticker", "date", *FEATURE_NAMES])
    p = panels(prices, market_close)
    r0 = 0 if since is None else int(p.dates.searchsorted(pd.Timestamp(since)))
    priced = np.isfinite(p.close[r0:]).T  # ticker x output date: the output is ticker-major
    first_row = np.concatenate([[0], np.cumsum(priced.sum(axis=1))])
    # Column-major: each feature's column is contiguous, and pandas wraps it without a copy.
    out = np.full((int(first_row[-1]), len(FEATURE_NAMES)), np.nan, dtype=dtype, order="F")
    column = {name: j for j, name in enumerate(FEATURE_NAMES)}
    cs_base = {b: np.empty(p.close.shape) for b in cross_section.BASE_FEATURES}

    def put(name: str, values: np.ndarray, first: int, last: int) -> None:
        out[first_row[first] : first_row[last], column[name]] = values[r0:].T[priced[first:last]]

    n = len(p.tickers)
    for first in range(0, n, TICKER_BLOCK):
        last = min(first + TICKER_BLOCK, n)
        block = replace(
            p, tickers=p.tickers[first:last], **{f: getattr(p, f)[:, first:last] for f in PRICE_FIELDS}
        )
        for name, values in (seed.compute(block) | library.compute(block)).items():
            put(name, values, first, last)
            if name in cs_base:
                cs_base[name][:, first:last] = values
    # Per-date features: only the output dates.
    for name, values in cross_section.compute({b: v[r0:] for b, v in cs_base.items()}).items():
        out[:, column[name]] = values.T[priced]
    frame = pd.DataFrame(out, columns=list(FEATURE_NAMES), copy=False)
    frame.insert(0, "ticker", np.repeat(np.array(p.tickers, dtype=object), priced.sum(axis=1)))
    frame.insert(1, "date", np.tile(p.dates[r0:].to_numpy(), n)[priced.ravel()])
    return frame
