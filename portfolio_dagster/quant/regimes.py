"""Market regimes known at each close: a 4-state Gaussian HMM on equal-weight market features.

Point in time: the HMM used at date d was fitted on market features dated before its refit date
(<= d), on the walk-forward schedule; its state probabilities at d come from the forward filter
alone (no smoothing, which would use later data), so the regime at d uses only data <= d.
States are ordered by their mean market volatility, so names are stable across refits.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM

from portfolio_dagster.quant.calendar import TRADING_DAYS

REGIME_STATES = ("calm", "normal", "volatile", "crisis")
# Regime probabilities as model inputs (the regime-adaptive family), in REGIME_STATES order.
REGIME_COLUMNS = tuple(f"regime_p_{s}" for s in REGIME_STATES)
MARKET_FEATURES = ("market_return", "market_log_vol")
VOL_WINDOW = 21
HMM_ITERATIONS = 25
HMM_TOLERANCE = 1e-2
# hmmlearn logs every non-monotone EM step at WARNING; convergence is not needed to the last digit.
logging.getLogger("hmmlearn.base").setLevel(logging.ERROR)
# The forward filter starts this many days before a refit date (a fixed burn-in, so a one-day run
# and a full backfill give the same probabilities).
FILTER_BURN_IN_DAYS = 252


def market_features(close: pd.DataFrame) -> pd.DataFrame:
    """Wide closes (date x ticker) -> equal-weight market daily return (%) and log 21-day volatility."""
    ret = close.pct_change(fill_method=None).mean(axis=1)
    vol = ret.rolling(VOL_WINDOW, min_periods=VOL_WINDOW).std() * np.sqrt(TRADING_DAYS)
    out = pd.DataFrame({"market_return": ret * 100.0, "market_log_vol": np.log(vol)})
    return out.replace([np.inf, -np.inf], np.nan).dropna()


@dataclass
class RegimeHMM:
    """GaussianHMM parameters (diagonal covariances), states sorted calm -> crisis."""

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    variances: np.ndarray  # diagonal covariances, states x features

    @classmethod
    def fit(cls, feats: np.ndarray, seed: int) -> RegimeHMM:
        hmm = GaussianHMM(
            n_components=len(REGIME_STATES),
            covariance_type="diag",
            n_iter=HMM_ITERATIONS,
            random_state=seed,
            tol=HMM_TOLERANCE,
            init_params="stc",
        )
        # Means start at the volatility quartiles' centroids: deterministic, and much cheaper than
        # hmmlearn's default k-means initialization (10 restarts).
        vol = feats[:, MARKET_FEATURES.index("market_log_vol")]
        buckets = np.array_split(np.argsort(vol, kind="stable"), len(REGIME_STATES))
        hmm.means_ = np.array([feats[b].mean(axis=0) for b in buckets])
        hmm.fit(feats)
        order = np.argsort(hmm.means_[:, MARKET_FEATURES.index("market_log_vol")], kind="stable")
        variances = np.array([np.diag(c) for c in hmm.covars_])
        return cls(
            hmm.startprob_[order], hmm.transmat_[np.ix_(order, order)], hmm.means_[order], variances[order]
        )

    def filtered(self, feats: np.ndarray) -> np.ndarray:
        """P(state_t | obs_1..t) for every t: the forward recursion, normalized each step."""
        var = np.maximum(self.variances, 1e-12)
        loglik = -0.5 * (
            np.log(2 * np.pi * var)[None] + (feats[:, None, :] - self.means[None]) ** 2 / var[None]
        ).sum(axis=2)
        # Scaled recursion in probability space: alpha_t ~ (alpha_{t-1} @ A) * b_t, renormalized.
        lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
        out = np.empty_like(lik)
        alpha = self.startprob * lik[0]
        out[0] = alpha / alpha.sum()
        for t in range(1, len(feats)):
            alpha = (out[t - 1] @ self.transmat) * lik[t]
            total = alpha.sum()
            out[t] = alpha / total if total > 0 else np.full(len(alpha), 1.0 / len(alpha))
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "states": list(REGIME_STATES),
                "features": list(MARKET_FEATURES),
                "startprob": self.startprob.tolist(),
                "transmat": self.transmat.tolist(),
                "means": self.means.tolist(),
                "variances": self.variances.tolist(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RegimeHMM:
        d = json.loads(text)
        return cls(*(np.asarray(d[k], dtype=float) for k in ("startprob", "transmat", "means", "variances")))


def fit_key(values: np.ndarray, seed: int) -> str:
    """A content hash of an HMM fit's inputs: the same data and seed give the same parameters."""
    h = hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    h.update(f"{seed}|{len(REGIME_STATES)}|{HMM_ITERATIONS}|{HMM_TOLERANCE}".encode())
    return h.hexdigest()[:20]


def walk_forward_probabilities(
    feats: pd.DataFrame,
    refit_dates: pd.DatetimeIndex,
    seed: int,
    min_train_days: int,
    rolling_days: int | None = None,
    fit: Callable[[np.ndarray, int], RegimeHMM] | None = None,
) -> pd.DataFrame:
    """Filtered regime probabilities (date x REGIME_STATES) from the HMM refitted at each refit date.

    The HMM valid from refit date r is fitted on feature rows dated < r (the last `rolling_days`
    of them when rolling) and filters every date in [r, next refit). Dates before the first refit
    with enough history get no row. `fit` (values, seed) -> RegimeHMM lets callers cache fits.
    """
    fit = fit or RegimeHMM.fit
    feats = feats.sort_index()
    values = feats[list(MARKET_FEATURES)].to_numpy()
    dates = feats.index
    parts = []
    for i, r in enumerate(refit_dates):
        upto = int(dates.searchsorted(r))  # rows < r
        first = 0 if rolling_days is None else max(0, upto - rolling_days)
        if upto - first < min_train_days:
            continue
        hmm = fit(values[first:upto], seed)
        stop = int(dates.searchsorted(refit_dates[i + 1])) if i + 1 < len(refit_dates) else len(dates)
        if stop <= upto:
            continue
        # Filter forward from a fixed burn-in through the segment: only data <= each date.
        begin = max(0, upto - FILTER_BURN_IN_DAYS)
        probs = hmm.filtered(values[begin:stop])[upto - begin :]
        parts.append(pd.DataFrame(probs, index=dates[upto:stop], columns=list(REGIME_STATES)))
    if not parts:
        return pd.DataFrame(columns=list(REGIME_STATES), index=pd.DatetimeIndex([], name="date"))
    out = pd.concat(parts)
    out.index.name = "date"
    return out


def regime_table(probs: pd.DataFrame) -> pd.DataFrame:
    """The `regimes` table: date, most likely state, probabilities as JSON {state: p}."""
    return pd.DataFrame(
        {
            "date": probs.index,
            "state": [REGIME_STATES[i] for i in np.argmax(probs.to_numpy(), axis=1)] if len(probs) else [],
            "probabilities": [
                json.dumps({s: round(float(p), 6) for s, p in zip(REGIME_STATES, row, strict=True)})
                for row in probs.to_numpy()
            ],
        }
    ).reset_index(drop=True)


def probability_columns(regimes: pd.DataFrame) -> pd.DataFrame:
    """`regimes` table rows -> date + REGIME_COLUMNS (model inputs)."""
    probs = [json.loads(p) for p in regimes["probabilities"]]
    out = pd.DataFrame(
        {c: [p.get(s, np.nan) for p in probs] for c, s in zip(REGIME_COLUMNS, REGIME_STATES, strict=True)}
    )
    out.insert(0, "date", pd.to_datetime(regimes["date"]).to_numpy())
    return out


def with_regime_columns(frame: pd.DataFrame, probs: pd.DataFrame) -> pd.DataFrame:
    """frame (with `date`) + REGIME_COLUMNS by date from walk_forward_probabilities output
    (NaN where no regime is known yet)."""
    cols = probs.rename(columns=dict(zip(REGIME_STATES, REGIME_COLUMNS, strict=True)))
    cols.index.name = "date"
    return frame.merge(cols.reset_index(), on="date", how="left")
