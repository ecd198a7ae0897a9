"""Trailing-window primitives on date x ticker panels (2-D float arrays, rows = dates).

Every result has the input's shape; a value at row t uses rows t-w+1..t only and is NaN unless all w
rows are finite (pandas' `rolling(w, min_periods=w)` semantics). Two kinds of kernel:
- `window_*`: a loop over the w lags of whole-array operations, exact per window (O(n*w)); used on
  price levels, where running sums would lose precision to cancellation.
- `running_*`: differences of cumulative sums (O(n)); used on returns and other small, centred values,
  where cumulative sums stay precise (~1e-15).
"""

from __future__ import annotations

import numpy as np


def lag(x: np.ndarray, k: int) -> np.ndarray:
    """x shifted down k rows (row t holds x[t-k]); NaN where t < k."""
    out = np.full_like(x, np.nan)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def _lagged_terms(x: np.ndarray, w: int):
    """(k, x[t-k] aligned to rows k..n-1 as `head`, rows k..n-1 as `tail` slice) for k = 0..w-1."""
    for k in range(w):
        yield k, x[: len(x) - k], slice(k, None)


def _finish(acc: np.ndarray, w: int) -> np.ndarray:
    acc[: w - 1] = np.nan
    return acc


def window_sum(x: np.ndarray, w: int) -> np.ndarray:
    """Sum of the last w rows: a loop over the w lags of contiguous array adds (O(n*w), exact per window)."""
    acc = np.zeros_like(x)
    for _, head, rows in _lagged_terms(x, w):
        acc[rows] += head
    return _finish(acc, w)


def window_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Trailing mean over `w` rows (NaN until the window is full)."""
    return window_sum(x, w) / w


def window_sq_dev(x: np.ndarray, w: int, mean: np.ndarray | None = None) -> np.ndarray:
    """Sum of squared deviations from the window's mean (two-pass: no cancellation on price levels)."""
    mean = window_mean(x, w) if mean is None else mean
    acc = np.zeros_like(x)
    for _, head, rows in _lagged_terms(x, w):
        acc[rows] += (head - mean[rows]) ** 2
    return _finish(acc, w)


def window_std(x: np.ndarray, w: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last w rows."""
    return np.sqrt(window_sq_dev(x, w) / (w - 1))


def window_rank(x: np.ndarray, w: int) -> np.ndarray:
    """Share of the window's values <= its last value (1 = at the window's high)."""
    acc = np.zeros_like(x)
    for _, head, rows in _lagged_terms(x, w):
        acc[rows] += head <= x[rows]
    acc[np.isnan(window_sum(x, w))] = np.nan
    return _finish(acc / w, w)


def window_extreme_age(x: np.ndarray, extreme: np.ndarray, w: int) -> np.ndarray:
    """Rows since x last equalled the window's `extreme` (its max or min), divided by w: 0 = today."""
    age = np.full_like(x, np.nan)
    for k, head, rows in _lagged_terms(x, w):
        hit = (head == extreme[rows]) & np.isnan(age[rows])
        age[rows][hit] = k / w
    age[np.isnan(extreme)] = np.nan
    return age


def window_trend(y: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope of y on time (per row) over the window, and its R^2."""
    centred = (w - 1) / 2.0 - np.arange(w)  # time of lag k relative to the window's middle
    sxx = float(centred @ centred)
    sxy = np.zeros_like(y)
    for k, head, rows in _lagged_terms(y, w):
        sxy[rows] += centred[k] * head
    sxy = _finish(sxy, w)
    syy = window_sq_dev(y, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(syy > 0, sxy * sxy / (sxx * syy), np.nan)
    r2[np.isnan(syy)] = np.nan
    return sxy / sxx, r2


def window_corr(x: np.ndarray, y: np.ndarray, w: int) -> np.ndarray:
    """Pearson correlation of x and y over the window (two-pass)."""
    mx, my = window_mean(x, w), window_mean(y, w)
    sxy = np.zeros_like(x)
    for k, head, rows in _lagged_terms(x, w):
        sxy[rows] += (head - mx[rows]) * (y[: len(y) - k] - my[rows])
    sxy = _finish(sxy, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sxy / np.sqrt(window_sq_dev(x, w, mx) * window_sq_dev(y, w, my))


def window_extreme(x: np.ndarray, w: int, highest: bool) -> np.ndarray:
    """Max (or min) of the last w rows in O(n log w): maxima of 1, 2, 4, ... rows by doubling, then two
    overlapping power-of-two spans cover the window (exact; NaN propagates like any window kernel)."""
    pick = np.maximum if highest else np.minimum
    span, m = 1, x
    while span * 2 <= w:
        m = pick(m, lag(m, span))
        span *= 2
    out = pick(m, lag(m, w - span)) if span < w else m.copy()
    out[: w - 1] = np.nan
    return out


class Running:
    """Cumulative sums of one array, computed once and shared by every window and power asked of it."""

    def __init__(self, x: np.ndarray) -> None:
        bad = ~np.isfinite(x)
        self.clean = np.where(bad, 0.0, x)
        self.nbad = np.cumsum(bad, axis=0, dtype=np.int32)
        self._cumulative: dict[int, np.ndarray] = {}

    def sums(self, w: int, powers: tuple[int, ...] = (1,)) -> tuple[np.ndarray, ...]:
        n = len(self.clean)
        nbad_w = self.nbad.copy()
        nbad_w[w:] -= self.nbad[:-w]
        invalid = nbad_w > 0
        invalid[: w - 1] = True
        out = []
        for p in powers:
            if p not in self._cumulative:
                self._cumulative[p] = np.cumsum(self.clean**p if p != 1 else self.clean, axis=0)
            c = self._cumulative[p]
            s = c.copy()
            s[w:] -= c[:-w]
            s[invalid] = np.nan
            if n < w:
                s[:] = np.nan
            out.append(s)
        return tuple(out)


def running_sums(x: np.ndarray | Running, w: int, powers: tuple[int, ...] = (1,)) -> tuple[np.ndarray, ...]:
    """Trailing-window sums of x**p for each p, NaN where the window holds a non-finite value."""
    return (x if isinstance(x, Running) else Running(x)).sums(w, powers)


def running_mean(x: np.ndarray | Running, w: int) -> np.ndarray:
    """Trailing mean over `w` rows from running sums (NaN until the window is full)."""
    return running_sums(x, w)[0] / w


def running_std(x: np.ndarray | Running, w: int, ddof: int = 1) -> np.ndarray:
    """Trailing standard deviation over `w` rows (`ddof` as numpy's) from running sums."""
    s1, s2 = running_sums(x, w, (1, 2))
    var = (s2 - s1 * s1 / w) / (w - ddof)
    return np.sqrt(np.maximum(var, 0.0))


def running_moments(x: np.ndarray | Running, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sample std, skewness (population moments ratio) over the window; all from one pass."""
    s1, s2, s3 = running_sums(x, w, (1, 2, 3))
    mean = s1 / w
    m2 = np.maximum(s2 / w - mean**2, 0.0)
    m3 = s3 / w - 3 * mean * s2 / w + 2 * mean**3
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = np.where(m2 > 0, m3 / m2**1.5, np.nan)
    return mean, np.sqrt(m2 * w / (w - 1)), skew


def running_cov(x: np.ndarray, y: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample covariance of x and y and the variances of each over the window (ddof=1)."""
    both_bad = ~(np.isfinite(x) & np.isfinite(y))
    x = np.where(both_bad, np.nan, x)
    y = np.where(both_bad, np.nan, y)
    sx, sxx = running_sums(x, w, (1, 2))
    sy, syy = running_sums(y, w, (1, 2))
    sxy = running_sums(x * y, w)[0]
    cov = (sxy - sx * sy / w) / (w - 1)
    return cov, np.maximum((sxx - sx * sx / w) / (w - 1), 0.0), np.maximum((syy - sy * sy / w) / (w - 1), 0.0)
