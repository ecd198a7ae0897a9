"""Performance and skill statistics, textbook definitions on daily net returns (risk-free rate 0)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kurtosis, norm, skew, spearmanr

TRADING_DAYS = 252
EULER_GAMMA = 0.5772156649015329


def max_drawdown(returns: np.ndarray) -> float:
    equity = np.cumprod(1.0 + returns)
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    return float(np.min(equity / peak - 1.0)) if equity.size else 0.0


def sharpe(returns: np.ndarray) -> float:
    sd = returns.std(ddof=1)
    return float(returns.mean() / sd * np.sqrt(TRADING_DAYS)) if sd > 0 else float("nan")


def probabilistic_sharpe(returns: np.ndarray, benchmark_sr: float = 0.0) -> float:
    """P(true Sharpe > benchmark_sr), Bailey & Lopez de Prado (2012), per-period Sharpe."""
    n = returns.size
    sd = returns.std(ddof=1)
    if n < 3 or sd == 0:
        return float("nan")
    sr = returns.mean() / sd
    g3, g4 = skew(returns), kurtosis(returns, fisher=False)
    denom = np.sqrt(max(1 - g3 * sr + (g4 - 1) / 4 * sr**2, 1e-12))
    return float(norm.cdf((sr - benchmark_sr) * np.sqrt(n - 1) / denom))


def deflated_sharpe(returns: np.ndarray, trials: int, trial_sharpe_std: float | None = None) -> float:
    """PSR against the expected maximum Sharpe of `trials` unskilled tries (Bailey & Lopez de Prado 2014)."""
    if trials <= 1:
        return probabilistic_sharpe(returns, 0.0)
    # Without the other trials' Sharpes, their dispersion is that of an estimate's sampling error.
    v = trial_sharpe_std if trial_sharpe_std is not None else 1.0 / np.sqrt(max(returns.size - 1, 1))
    expected_max = v * ((1 - EULER_GAMMA) * norm.ppf(1 - 1 / trials) + EULER_GAMMA * norm.ppf(1 - 1 / (trials * np.e)))
    return probabilistic_sharpe(returns, expected_max)


def performance(net: np.ndarray, turnover: np.ndarray, benchmark: np.ndarray | None, trials: int) -> dict[str, float]:
    n = net.size
    years = n / TRADING_DAYS
    total = float(np.prod(1.0 + net))
    cagr = total ** (1 / years) - 1 if years > 0 and total > 0 else float("nan")
    vol = float(net.std(ddof=1) * np.sqrt(TRADING_DAYS))
    downside = net[net < 0]
    dd = np.sqrt(np.mean(np.minimum(net, 0.0) ** 2)) * np.sqrt(TRADING_DAYS)
    mdd = max_drawdown(net)
    gains, losses = net[net > 0].sum(), -downside.sum()
    out = {
        "annual_return": cagr,
        "annual_volatility": vol,
        "sharpe": sharpe(net),
        "sortino": float(net.mean() * TRADING_DAYS / dd) if dd > 0 else float("nan"),
        "max_drawdown": mdd,
        "calmar": float(cagr / abs(mdd)) if mdd < 0 else float("nan"),
        "hit_rate": float(np.mean(net > 0)),
        "profit_factor": float(gains / losses) if losses > 0 else float("nan"),
        "turnover": float(turnover.sum() / years) if years > 0 else float("nan"),
        "deflated_sharpe": deflated_sharpe(net, trials),
    }
    if benchmark is not None:
        active = net - benchmark
        te = active.std(ddof=1)
        out["information_ratio"] = float(active.mean() / te * np.sqrt(TRADING_DAYS)) if te > 0 else float("nan")
    return out


def forecast_skill(frame: pd.DataFrame) -> dict[str, float]:
    """frame: date, prediction, realized. Directional accuracy next to the base rate (the share of
    up moves, what "always up" scores) and the IC: the mean over dates of the cross-sectional
    rank correlation of prediction and realized return."""
    frame = frame[np.isfinite(frame["prediction"]) & np.isfinite(frame["realized"])]
    if len(frame) < 3:
        return {"directional_accuracy": float("nan"), "base_rate": float("nan"), "ic": float("nan"), "n": 0}
    pred, realized = frame["prediction"].to_numpy(), frame["realized"].to_numpy()
    ics = [spearmanr(d["prediction"], d["realized"]).statistic for _, d in frame.groupby("date")
           if len(d) >= 3 and d["prediction"].nunique() > 1 and d["realized"].nunique() > 1]
    return {
        "directional_accuracy": float(np.mean((pred > 0) == (realized > 0))),
        "base_rate": float(np.mean(realized > 0)),
        "ic": float(np.mean(ics)) if ics else float("nan"),
        "n": int(len(frame)),
    }
