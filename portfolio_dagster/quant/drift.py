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
    e = e[np.isfinite(e)]
    if len(e) < bins:
        return math.nan
    edges = bin_edges(e, bins)
    return _psi_against(edges, np.maximum(bin_shares(e, edges), floor), actual, floor)


def _psi_against(edges: np.ndarray, e_share: np.ndarray, actual, floor: float) -> float:
    """PSI of `actual` against the training bins (`edges`, floored shares `e_share`)."""
    a = np.asarray(actual, dtype=float)
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return math.nan
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
    profile = training_profile(train, features, bins, floor, window_days)
    return profile[["feature", "baseline_median", "baseline_max"]]


def _windows(train: pd.DataFrame, window_days: int) -> tuple[np.ndarray, int]:
    """(each row's window number, the number of full windows) of `train`'s dates."""
    dates = np.sort(train["date"].unique())
    return np.searchsorted(dates, train["date"].to_numpy()) // window_days, len(dates) // window_days


def _training_bins(finite_values: np.ndarray, bins: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """(edges, floored shares) of the training values: computed once per feature (quantiles of millions
    of rows at 500 names) for its PSI and its baseline alike."""
    edges = bin_edges(finite_values, bins)
    return edges, np.maximum(bin_shares(finite_values, edges), floor)


def _baseline(
    values: np.ndarray,
    finite: np.ndarray,
    windows: tuple[np.ndarray, int],
    bins_of: tuple[np.ndarray, np.ndarray] | None,
    floor: float,
) -> dict[str, float]:
    window, n_windows = windows
    psis = np.array([])
    if n_windows and bins_of is not None:
        edges, e_share = bins_of
        k = len(edges) + 1
        inside = finite & (window < n_windows)
        codes = np.searchsorted(edges, values[inside], side="right")
        counts = np.bincount(window[inside] * k + codes, minlength=n_windows * k).reshape(n_windows, k)
        totals = counts.sum(axis=1)
        a_share = np.maximum(counts[totals > 0] / totals[totals > 0, None], floor)
        psis = ((a_share - e_share) * np.log(a_share / e_share)).sum(axis=1)
    return {
        "baseline_median": float(np.median(psis)) if len(psis) else math.nan,
        "baseline_max": float(psis.max()) if len(psis) else math.nan,
    }


def drifted(table: pd.DataFrame, threshold: float, rule: str = ABSOLUTE) -> pd.Series:
    """Per row of a feature_drift table: PSI above the threshold (beyond_training: and above every
    training window's PSI; a feature without a baseline is judged by the threshold alone)."""
    over = table["psi"] > threshold
    if rule == BEYOND_TRAINING:
        over &= ~(table["psi"] <= table["baseline_max"])
    elif rule != ABSOLUTE:
        raise ValueError(f"unknown drift rule {rule!r}")
    return over


PROFILE_COLUMNS = [
    "feature",
    "edges",
    "shares",
    "train_rows",
    "train_median",
    "baseline_median",
    "baseline_max",
]


def training_profile(
    train: pd.DataFrame,
    features: Sequence[str],
    bins: int = DEFAULT_BINS,
    floor: float = SHARE_FLOOR,
    window_days: int | None = None,
) -> pd.DataFrame:
    """What a drift comparison needs of the training rows, per feature (PROFILE_COLUMNS): the bins'
    interior edges and floored shares (lists; empty with fewer finite values than bins), the finite rows,
    the median and, with window_days (and a `date` column), the training windows' PSI median and max.
    A property of the model set: computed once, it serves every later comparison (drift_from_profile)."""
    baselines = window_days and "date" in train
    windows = _windows(train, window_days) if baselines else None
    rows = []
    for name in features:
        e = train[name].to_numpy(dtype=float)
        finite = np.isfinite(e)
        bins_of = _training_bins(e[finite], bins, floor) if finite.sum() >= bins else None
        rows.append(
            {
                "feature": name,
                "edges": [] if bins_of is None else [float(x) for x in bins_of[0]],
                "shares": [] if bins_of is None else [float(x) for x in bins_of[1]],
                "train_rows": int(finite.sum()),
                "train_median": float(np.median(e[finite])) if finite.any() else math.nan,
                **(
                    _baseline(e, finite, windows, bins_of, floor)
                    if baselines
                    else {"baseline_median": math.nan, "baseline_max": math.nan}
                ),
            }
        )
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def drift_from_profile(
    profile: pd.DataFrame, recent: pd.DataFrame, floor: float = SHARE_FLOOR
) -> pd.DataFrame:
    """One row per profiled feature (DRIFT_COLUMNS): the PSI of `recent` against the training bins, the
    most drifted first (NaN PSI last)."""
    rows = []
    for p in profile.itertuples(index=False):
        a = recent[p.feature].to_numpy(dtype=float)
        shares = np.asarray(p.shares, dtype=float)
        rows.append(
            {
                "feature": p.feature,
                "psi": _psi_against(np.asarray(p.edges, dtype=float), shares, a, floor)
                if len(shares)
                else math.nan,
                "baseline_median": p.baseline_median,
                "baseline_max": p.baseline_max,
                "train_rows": p.train_rows,
                "recent_rows": int(np.isfinite(a).sum()),
                "train_median": p.train_median,
                "recent_median": float(np.nanmedian(a)) if np.isfinite(a).any() else math.nan,
            }
        )
    table = pd.DataFrame(rows).reindex(columns=DRIFT_COLUMNS)
    return table.sort_values("psi", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


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
    return drift_from_profile(training_profile(train, features, bins, floor, window_days), recent, floor)
