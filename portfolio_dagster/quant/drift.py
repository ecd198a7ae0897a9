"""Feature drift: the population stability index (PSI) of each model input, a recent window against the
window the model was trained on.

PSI = sum over bins of (a_i - e_i) * ln(a_i / e_i), with e_i and a_i the shares of the training
(expected) and recent (actual) values in bin i. Bins are the quantiles of the training values, so each
holds about 1/bins of them; bin i is [edge_{i-1}, edge_i) with open outer ends. A share of 0 is floored
at `floor` (PSI is infinite otherwise). Rule of thumb: < 0.1 stable, 0.1-0.2 moderate, > 0.2 drifted.
Non-finite values are left out on both sides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_BINS = 10
SHARE_FLOOR = 1e-4
DRIFT_COLUMNS = ["feature", "psi", "train_rows", "recent_rows", "train_median", "recent_median"]


def bin_edges(expected: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Interior cut points: the training values' quantiles (ties merged, so a constant gives none)."""
    return np.unique(np.quantile(expected, np.linspace(0.0, 1.0, bins + 1)[1:-1]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def psi(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray,
        bins: int = DEFAULT_BINS, floor: float = SHARE_FLOOR) -> float:
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


def feature_drift(train: pd.DataFrame, recent: pd.DataFrame, features: Sequence[str],
                  bins: int = DEFAULT_BINS, floor: float = SHARE_FLOOR) -> pd.DataFrame:
    """One row per feature (DRIFT_COLUMNS), the most drifted first (NaN PSI last)."""
    rows = []
    for name in features:
        e = train[name].to_numpy(dtype=float)
        a = recent[name].to_numpy(dtype=float)
        rows.append({"feature": name, "psi": psi(e, a, bins, floor),
                     "train_rows": int(np.isfinite(e).sum()), "recent_rows": int(np.isfinite(a).sum()),
                     "train_median": float(np.nanmedian(e)) if np.isfinite(e).any() else math.nan,
                     "recent_median": float(np.nanmedian(a)) if np.isfinite(a).any() else math.nan})
    table = pd.DataFrame(rows, columns=DRIFT_COLUMNS)
    return table.sort_values("psi", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
