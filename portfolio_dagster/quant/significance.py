"""Is a difference real? Tests robust to serial correlation and fat tails; arrays in, floats out.

- Sharpe ratio difference of two return series observed on the same days (Ledoit & Wolf 2008,
  "Robust performance hypothesis testing with the Sharpe ratio"): the delta method on the four
  moments (mean and uncentered second moment of each series) with a HAC covariance of the moments
  (quadratic-spectral kernel, Andrews' automatic bandwidth), or, as an option, their studentized
  circular block bootstrap, which keeps its size better in small samples.
- Rank IC per date (cross-sectional Spearman correlation of forecast and outcome) and the
  Newey-West t-statistic of its mean: forecasts h days ahead overlap, so the daily IC series is
  autocorrelated up to h - 1 lags at least and the lag count is 2 (h - 1) or more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from arch.bootstrap import CircularBlockBootstrap, optimal_block_length
from arch.covariance.kernel import Bartlett, QuadraticSpectral
from scipy.stats import norm

from portfolio_dagster.quant.metrics import cross_sectional_ic

SHARPE_TEST_METHODS = ("hac", "bootstrap")
BOOTSTRAP_REPS = 1000


@dataclass(frozen=True)
class SharpeDifference:
    """Per-period Sharpe ratios (mean / std, not annualized), their difference a - b, its standard error
    and the two-sided p-value of 'no difference'."""

    sharpe_a: float
    sharpe_b: float
    difference: float
    standard_error: float
    pvalue: float
    method: str


def _moments(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v, y): v = (mean_a, mean_b, E r_a^2, E r_b^2) and y the per-period moment deviations (T x 4)."""
    obs = np.column_stack([r[:, 0], r[:, 1], r[:, 0] ** 2, r[:, 1] ** 2])
    v = obs.mean(axis=0)
    return v, obs - v


def _sharpe(mean: float, second: float) -> float:
    var = second - mean**2
    return mean / math.sqrt(var) if var > 0 else float("nan")


def _gradient(v: np.ndarray) -> np.ndarray:
    """d(SR_a - SR_b) / d(mean_a, mean_b, second_a, second_b) with SR = mean / sqrt(second - mean^2)."""
    ma, mb, ga, gb = v
    da, db = (ga - ma**2) ** 1.5, (gb - mb**2) ** 1.5
    return np.array([ga / da, -gb / db, -ma / (2 * da), mb / (2 * db)])


def _standard_error(grad: np.ndarray, psi: np.ndarray, n: int) -> float:
    return math.sqrt(max(float(grad @ psi @ grad), 0.0) / n)


def _aligned(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(
            f"the two return series differ in length ({len(a)} vs {len(b)}): align them by date first"
        )
    r = np.column_stack([a, b])
    r = r[np.isfinite(r).all(axis=1)]
    if len(r) < 10:
        raise ValueError(f"a Sharpe ratio test needs at least 10 common finite observations, got {len(r)}")
    return r


def default_block_size(a, b) -> int:
    """The larger of the two series' optimal circular block lengths (Politis-White, Patton et al.), >= 1."""
    r = _aligned(a, b)
    lengths = [float(optimal_block_length(r[:, j])["circular"].iat[0]) for j in range(2)]
    return int(min(max(1, math.ceil(max(lengths))), len(r) // 4))


def sharpe_difference_test(
    a, b, method: str = "hac", *, block_size: int | None = None, reps: int = BOOTSTRAP_REPS, seed: int = 7
) -> SharpeDifference:
    """H0: SR_a == SR_b for two return series on the same periods (NaN rows dropped pairwise).

    method 'hac': z = diff / se with se from the delta method and a quadratic-spectral HAC covariance.
    method 'bootstrap': the studentized circular block bootstrap of Ledoit & Wolf (2008, section 3.2):
    p = (1 + #{|diff* - diff| / se* >= |diff| / se}) / (reps + 1), se* from the blocks' sums.
    Identical series give p = 1; a constant series is an error (its Sharpe ratio is undefined)."""
    if method not in SHARPE_TEST_METHODS:
        raise ValueError(f"unknown Sharpe test method {method!r}; known: {', '.join(SHARPE_TEST_METHODS)}")
    r = _aligned(a, b)
    n = len(r)
    v, y = _moments(r)
    sa, sb = _sharpe(v[0], v[2]), _sharpe(v[1], v[3])
    if not (np.isfinite(sa) and np.isfinite(sb)):
        raise ValueError("a return series is constant: its Sharpe ratio is undefined")
    diff = sa - sb
    grad = _gradient(v)
    se = _standard_error(grad, QuadraticSpectral(y, center=False).cov.long_run, n)
    if diff == 0.0:
        return SharpeDifference(sa, sb, 0.0, se, 1.0, method)
    if se == 0.0:
        return SharpeDifference(sa, sb, diff, 0.0, 0.0, method)
    stat = abs(diff) / se
    if method == "hac":
        return SharpeDifference(sa, sb, diff, se, float(2 * norm.sf(stat)), method)
    b_len = block_size or default_block_size(r[:, 0], r[:, 1])
    blocks = n // b_len
    exceed = 0
    for (sample,), _ in CircularBlockBootstrap(b_len, r, seed=seed).bootstrap(reps):
        vs, ys = _moments(sample)
        d_star = _sharpe(vs[0], vs[2]) - _sharpe(vs[1], vs[3])
        zeta = ys[: blocks * b_len].reshape(blocks, b_len, 4).sum(axis=1) / math.sqrt(b_len)
        se_star = _standard_error(_gradient(vs), zeta.T @ zeta / blocks, n)
        if se_star > 0 and abs(d_star - diff) / se_star >= stat:
            exceed += 1
    return SharpeDifference(sa, sb, diff, se, (exceed + 1) / (reps + 1), method)


def sharpe_diff_pvalue(a, b, method: str = "hac", **kwargs) -> float:
    """Two-sided p-value of H0: SR_a == SR_b (see sharpe_difference_test)."""
    return sharpe_difference_test(a, b, method, **kwargs).pvalue


def newey_west_lags(n: int, horizon: int = 1) -> int:
    """max(2 (horizon - 1), floor(4 (n / 100)^(2/9))): h-day outcomes overlap for h - 1 lags, but the Bartlett
    weights shrink those autocovariances, so twice the overlap keeps the size near nominal; else the
    Newey-West rule of thumb."""
    return max(2 * (int(horizon) - 1), int(4 * (n / 100.0) ** (2.0 / 9.0)))


def newey_west_tstat(series, horizon: int = 1) -> float:
    """t-statistic of the mean of a series (NaNs dropped) with a Bartlett-kernel (Newey-West) long-run
    variance at newey_west_lags(n, horizon) lags. NaN with fewer than 3 observations; 0 for a
    zero-variance series with a zero mean."""
    x = np.asarray(series, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 3:
        return float("nan")
    mean = float(x.mean())
    lrv = float(Bartlett(x, bandwidth=min(newey_west_lags(len(x), horizon), len(x) - 1)).cov.long_run[0, 0])
    if lrv <= 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / math.sqrt(lrv / len(x))


def rank_ic_stats(
    frame: pd.DataFrame, horizon: int, prediction: str = "prediction", actual: str = "actual"
) -> dict[str, float]:
    """{rank_ic: mean of the per-date Spearman IC, ic_tstat: its Newey-West t (lags >= 2 (horizon - 1)),
    ic_dates: dates used} for one horizon's forecasts (date, prediction, actual)."""
    ic = cross_sectional_ic(frame, prediction, actual, rank=True)
    return {
        "rank_ic": float(ic.mean()) if len(ic) else float("nan"),
        "ic_tstat": newey_west_tstat(ic.to_numpy(), horizon),
        "ic_dates": float(len(ic)),
    }
