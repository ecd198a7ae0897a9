"""Regime-adaptive: one Bayesian ridge per HMM market regime, blended by the regime probabilities.

Inputs are the features plus REGIME_COLUMNS: the point-in-time filtered probabilities of the
4-state GaussianHMM (quant/regimes.py). State k's ridge is fitted with sample weights p_k, and the
forecast is sum_k p_k * prediction_k. Rows without regime probabilities fall back to the pooled fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from portfolio_dagster.quant.models.base import Forecaster, Standardizer, matrix, subsample_dates
from portfolio_dagster.quant.models.bayesian_ridge import fit_ridge
from portfolio_dagster.quant.regimes import REGIME_COLUMNS

# A state with less total probability mass than this many rows uses the pooled coefficients.
MIN_STATE_WEIGHT = 200.0


class RegimeAdaptiveForecaster(Forecaster):
    """Ridge fits per market regime blended by the regime probabilities, with a pooled fit as fallback."""

    family = "regime_adaptive"
    native_suffix = ".npz"

    def __init__(self, params: dict | None = None, seed: int = 7, threads: int = 1) -> None:
        super().__init__(params, seed, threads)
        self.scaler = Standardizer()
        self.coef = np.zeros((len(REGIME_COLUMNS) + 1, 0))  # per state, then the pooled fit last
        self.intercept = np.zeros(len(REGIME_COLUMNS) + 1)

    def _probabilities(self, x: pd.DataFrame) -> np.ndarray:
        missing = [c for c in REGIME_COLUMNS if c not in x.columns]
        if missing:
            raise ValueError(f"regime_adaptive needs the regime probability columns: {', '.join(missing)}")
        return x[list(REGIME_COLUMNS)].to_numpy(dtype=float)

    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray) -> None:
        idx = subsample_dates(x["date"], self.params.get("max_train_rows"), self.seed)
        a, y, probs = matrix(x, self.feature_names)[idx], y[idx], self._probabilities(x)[idx]
        self.scaler.fit(a)
        z = self.scaler.transform(a)
        pooled = fit_ridge(z, y)
        coefs, intercepts = [], []
        known = ~np.isnan(probs).any(axis=1)
        for k in range(len(REGIME_COLUMNS)):
            w = np.where(known, probs[:, k], 0.0)
            c, b = fit_ridge(z[w > 1e-6], y[w > 1e-6], w[w > 1e-6]) if w.sum() >= MIN_STATE_WEIGHT else pooled
            coefs.append(c)
            intercepts.append(b)
        self.coef = np.vstack([*coefs, pooled[0]])
        self.intercept = np.array([*intercepts, pooled[1]])

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        z = self.scaler.transform(matrix(x, self.feature_names))
        per_state = z @ self.coef.T + self.intercept  # rows x (states + pooled)
        probs = self._probabilities(x)
        known = ~np.isnan(probs).any(axis=1)
        blended = (np.nan_to_num(probs) * per_state[:, :-1]).sum(axis=1)
        return np.where(known, blended, per_state[:, -1])

    def gain_importance(self) -> np.ndarray:
        return np.abs(self.coef[-1])

    def _save_native(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(fh, coef=self.coef, intercept=self.intercept, mean=self.scaler.mean, std=self.scaler.std)

    def _load_native(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as z:
            self.coef, self.intercept = z["coef"], z["intercept"]
            self.scaler = Standardizer(z["mean"], z["std"])
