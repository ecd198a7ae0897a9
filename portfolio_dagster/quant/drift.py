"""Feature drift: the population stability index (PSI) of each model input, a recent window against the
window the model was trained on.

PSI = sum over bins of (a_i - e_i) * ln(a_i / e_i), with e_i and a_i the shares of the training
(expected) and recent (actual) values in bin i. Bins are the quantiles of the training values, so each
holds about 1/bins of them; bin i is [edge_{i-1}, edge_i) with open outer ends. A share of 0 is floored
at `floor` (PSI is infinite otherwise). Rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 drifted.
Non-finite values are left out on both sides.

The 0.2 rule of thumb assumes independent draws. Persistent inputs (a 252-day volatility, a beta) barely
move within a few weeks, so a short recent window covers a narrow slice of their range and scores a high
PSI with no change in the process at all. `training_baseline` measures that: the PSI of each run of
`window_days` consecutive training dates against the whole training window, i.e. what a window with no
drift scores. A recent PSI beyond the baseline's maximum is drift the training period never showed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_BINS = 10
SHARE_FLOOR = 1e-4
DRIFT_COLUMNS = [
    "feature",
    "psi",
    "baseline_median",
    "baseline_max",
    "train_rows",
    "recent_rows",
    "train_median",
    "recent_median",
]
ABSOLUTE, BEYOND_TRAINING = "absolute", "beyond_training"  # drift rules: PSI > threshold (and > baseline_max)


def bin_edges(expected: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Interior cut points: the training values' quantiles (ties merged, so a constant gives none)."""
    return np.unique(np.quantile(expected, np.linspace(0.0, 1.0, bins + 1)[1:-1]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `values` in each bin of `edges` (len(edges) + 1 bins, the outer ones open-ended)."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def psi(
    expected: Sequence[float] | np.ndarray,
    actual: Sequence[float] | np.ndarray,
    bins: int = DEFAULT_BINS,
    floor: float = SHARE_FLOOR,
) -> float:
    """PSI of `actual` against `expected`; NaN when either side has no finite value or the training
    side has fewer values than bins."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e, a = e[np.isfinite(e)], a[np.isfinite(a)]
    if len(e) < bins or len(a) == 0:
        return math.nan
    edges = bin_edges(e, bins)
    e_share = np.maximum(bin_shares(e, edges), floor)
    a_share = np.maximum(bin_shares(a, edges), floor)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def training_baseline(
    train: pd.DataFrame,
    features: Sequence[str],
    window_days: int,
    bins: int = DEFAULT_BINS,
    floor: float = SHARE_FLOOR,
) -> pd.DataFrame:
    """feature, baseline_median, baseline_max: the PSI of each run of `window_days` consecutive dates of
    `train` (a `date` column; a shorter tail is left out) against all of `train`. NaN without a full run."""
    dates = np.sort(train["date"].unique())
    n_windows = len(dates) // window_days
    window = np.searchsorted(dates, train["date"].to_numpy()) // window_days
    rows = []
    for name in features:
        values = train[name].to_numpy(dtype=float)
        finite = np.isfinite(values)
        psis = np.array([])
        if n_windows and finite.sum() >= bins:
            edges = bin_edges(values[finite], bins)
            k = len(edges) + 1
            e_share = np.maximum(bin_shares(values[finite], edges), floor)
            inside = finite & (window < n_windows)
            codes = np.searchsorted(edges, values[inside], side="right")
            counts = np.bincount(window[inside] * k + codes, minlength=n_windows * k).reshape(n_windows, k)
            totals = counts.sum(axis=1)
            a_share = np.maximum(counts[totals > 0] / totals[totals > 0, None], floor)
            psis = ((a_share - e_share) * np.log(a_share / e_share)).sum(axis=1)
        rows.append(
            {
                "feature": name,
                "baseline_median": float(np.median(psis)) if len(psis) else math.nan,
                "baseline_max": float(psis.max()) if len(psis) else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=["feature", "baseline_median", "baseline_max"])


def drifted(table: pd.DataFrame, threshold: float, rule: str = ABSOLUTE) -> pd.Series:
    """Per row of a feature_drift table: PSI above the threshold (beyond_training: and above every
    training window's PSI; a feature without a baseline is judged by the threshold alone)."""
    over = table["psi"] > threshold
    if rule == BEYOND_TRAINING:
        over &= ~(table["psi"] <= table["baseline_max"])
    elif rule != ABSOLUTE:
        raise ValueError(f"unknown drift rule {rule!r}")
    return over


def feature_drift(
    train: pd.DataFrame,
    recent: pd.DataFrame,
    features: Sequence[str],
    bins: int = DEFAULT_BINS,
    floor: float = SHARE_FLOOR,
    window_days: int | None = None,
) -> pd.DataFrame:
    """One row per feature (DRIFT_COLUMNS), the most drifted first (NaN PSI last). With window_days (and a
    `date` column in train) the training baseline too; NaN otherwise."""
    rows = []
    for name in features:
        e = train[name].to_numpy(dtype=float)
        a = recent[name].to_numpy(dtype=float)
        rows.append(
            {
                "feature": name,
                "psi": psi(e, a, bins, floor),
                "train_rows": int(np.isfinite(e).sum()),
                "recent_rows": int(np.isfinite(a).sum()),
                "train_median": float(np.nanmedian(e)) if np.isfinite(e).any() else math.nan,
                "recent_median": float(np.nanmedian(a)) if np.isfinite(a).any() else math.nan,
            }
        )
    table = pd.DataFrame(rows).assign(baseline_median=math.nan, baseline_max=math.nan)
    if window_days and "date" in train:
        baseline = training_baseline(train, features, window_days, bins, floor).set_index("feature")
        table["baseline_median"] = table["feature"].map(baseline["baseline_median"])
        table["baseline_max"] = table["feature"].map(baseline["baseline_max"])
    table = table.reindex(columns=DRIFT_COLUMNS)
    return table.sort_values("psi", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
