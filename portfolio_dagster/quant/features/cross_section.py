"""Cross-sectional features: each date's rank and z-score of a feature across the tickers priced that
date. Point in time by construction (one date at a time); they depend on the universe's composition."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from portfolio_dagster.quant.features.registry import FeatureSpec

BASE_FEATURES = (
    "ret_5d",
    "momentum_20d",
    "ret_60d",
    "ret_252d",
    "vol_20d",
    "vol_60d",
    "ma_ratio_20",
    "range_pos_20",
    "drawdown_252d",
    "mkt_beta_60d",
)

SPECS = [
    *[
        FeatureSpec(
            f"cs_rank_{b}",
            "cross_section",
            f"percentile rank of {b} among the date's tickers (0..1, ties averaged; NaN below 2 tickers)",
            None,
            b,
            0,
        )
        for b in BASE_FEATURES
    ],
    *[
        FeatureSpec(
            f"cs_z_{b}",
            "cross_section",
            f"({b} - its cross-sectional mean) / cross-sectional sample std per date",
            None,
            b,
            0,
        )
        for b in BASE_FEATURES
    ],
]


def compute(base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-date cross-sectional percentile ranks of the base features (NaN where a base value is)."""
    out = {}
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for b in BASE_FEATURES:
            x = base[b]
            n = np.isfinite(x).sum(axis=1, keepdims=True)
            rank = pd.DataFrame(x).rank(axis=1, method="average").to_numpy()
            out[f"cs_rank_{b}"] = np.where(n >= 2, (rank - 1) / (n - 1), np.nan)
            mean = np.nanmean(x, axis=1, keepdims=True)
            std = np.nanstd(x, axis=1, ddof=1, keepdims=True)
            z = (x - mean) / std
            z[~np.isfinite(z)] = np.nan
            out[f"cs_z_{b}"] = z
    return out
