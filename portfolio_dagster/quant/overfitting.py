"""Skill vs luck vs overfitting: probabilistic and deflated Sharpe, PBO by CSCV.

- PSR (Bailey & Lopez de Prado 2012): P(true Sharpe > SR*) =
  Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2)), per-period Sharpe, g3 skewness,
  g4 (non-excess) kurtosis.
- DSR (Bailey & Lopez de Prado 2014): the PSR against SR* = the expected maximum Sharpe of N
  unskilled trials, sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))), V the variance
  of the trials' Sharpe ratios.
- PBO (Bailey, Borwein, Lopez de Prado & Zhu 2015), combinatorially symmetric cross-validation: split
  the T x N matrix of the variants' returns into S blocks; for every half of the blocks as in-sample,
  pick the best in-sample variant and find its relative rank w out of sample; PBO = P(logit(w) <= 0).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import kurtosis, norm, skew

EULER_GAMMA = 0.5772156649015329
NAN = float("nan")
CSCV_BLOCKS = 16


def psr_from_moments(sr: float, benchmark_sr: float, n: int, skewness: float, kurt: float) -> float:
    """PSR from a per-period Sharpe `sr` over `n` observations with this skewness and (non-excess)
    kurtosis: the form the papers' worked examples are stated in."""
    denom = np.sqrt(max(1 - skewness * sr + (kurt - 1) / 4 * sr**2, 1e-12))
    return float(norm.cdf((sr - benchmark_sr) * np.sqrt(n - 1) / denom))


def probabilistic_sharpe(returns: np.ndarray, benchmark_sr: float = 0.0) -> float:
    """P[true Sharpe > benchmark_sr] of daily returns (Bailey & Lopez de Prado; NaN below 3 returns)."""
    returns = np.asarray(returns, dtype=float)
    n = returns.size
    sd = returns.std(ddof=1) if n > 1 else 0.0
    if n < 3 or sd == 0:
        return NAN
    return psr_from_moments(
        returns.mean() / sd, benchmark_sr, n, skew(returns), kurtosis(returns, fisher=False)
    )


def expected_max_sharpe(trials: int, trial_sharpe_std: float) -> float:
    """Expected maximum of `trials` per-period Sharpe ratios with true mean 0 and this dispersion."""
    if trials <= 1:
        return 0.0
    return float(
        trial_sharpe_std
        * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / trials) + EULER_GAMMA * norm.ppf(1 - 1 / (trials * np.e)))
    )


def deflated_sharpe(returns: np.ndarray, trials: int, trial_sharpe_std: float | None = None) -> float:
    """PSR against the expected maximum Sharpe of `trials` tries. Without the trials' dispersion,
    it is taken as one Sharpe estimate's sampling error, 1/sqrt(n - 1)."""
    returns = np.asarray(returns, dtype=float)
    v = (
        trial_sharpe_std
        if trial_sharpe_std is not None and np.isfinite(trial_sharpe_std)
        else 1.0 / np.sqrt(max(returns.size - 1, 1))
    )
    return probabilistic_sharpe(returns, expected_max_sharpe(trials, v))


def pbo_cscv(variant_returns: np.ndarray, blocks: int = CSCV_BLOCKS) -> dict[str, float]:
    """variant_returns: T x N daily returns of N tried variants over the same days.

    Returns pbo (probability of backtest overfitting), the median logit and the number of splits.
    Sharpe per block combination comes from per-block sums, so all C(S, S/2) splits are one matrix
    product each.
    """
    m = np.asarray(variant_returns, dtype=float)
    t, n = m.shape
    if n < 2 or blocks < 2 or blocks % 2 or t < 2 * blocks:
        return {"pbo": NAN, "logit_median": NAN, "splits": 0}
    edges = np.linspace(0, t, blocks + 1).astype(int)
    s1 = np.add.reduceat(m, edges[:-1], axis=0)  # S x N sums
    s2 = np.add.reduceat(m * m, edges[:-1], axis=0)
    counts = np.diff(edges).astype(float)
    combos = np.array([c for c in itertools.combinations(range(blocks), blocks // 2)])
    in_sample = np.zeros((len(combos), blocks))
    in_sample[np.arange(len(combos))[:, None], combos] = 1.0
    out_sample = 1.0 - in_sample

    def block_sharpe(mask: np.ndarray) -> np.ndarray:
        k = mask @ counts
        mean = (mask @ s1) / k[:, None]
        var = ((mask @ s2) - k[:, None] * mean**2) / (k[:, None] - 1)
        return mean / np.sqrt(np.maximum(var, 1e-300))

    sr_in, sr_out = block_sharpe(in_sample), block_sharpe(out_sample)
    best = np.argmax(sr_in, axis=1)
    chosen_out = sr_out[np.arange(len(combos)), best]
    # Relative rank of the in-sample winner out of sample, in (0, 1): (1 + #worse) / (N + 1).
    rank = 1 + (sr_out < chosen_out[:, None]).sum(axis=1)
    omega = rank / (n + 1)
    logit = np.log(omega / (1 - omega))
    return {
        "pbo": float(np.mean(logit <= 0)),
        "logit_median": float(np.median(logit)),
        "splits": int(len(combos)),
    }
