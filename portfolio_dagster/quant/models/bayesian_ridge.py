"""Bayesian ridge on standardized features: the linear baseline; arrays stored as npz (no pickle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import BayesianRidge

from portfolio_dagster.quant.models.base import Forecaster, Standardizer, matrix, subsample_dates


def fit_ridge(z: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(coefficients, intercept) of sklearn's BayesianRidge (evidence-maximized priors)."""
    model = BayesianRidge(max_iter=300)
    model.fit(z, y, sample_weight=weights)
    return model.coef_.astype(float), float(model.intercept_)


class BayesianRidgeForecaster(Forecaster):
    """Bayesian ridge regression on standardized features (scikit-learn), stored as .npz coefficients."""

    family = "bayesian_ridge"
    native_suffix = ".npz"

    def __init__(self, params: dict | None = None, seed: int = 7, threads: int = 1) -> None:
        super().__init__(params, seed, threads)
        self.scaler = Standardizer()
        self.coef = np.zeros(0)
        self.intercept = 0.0

    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray) -> None:
        idx = subsample_dates(x["date"], self.params.get("max_train_rows"), self.seed)
        a = matrix(x, self.feature_names)[idx]
        self.scaler.fit(a)
        self.coef, self.intercept = fit_ridge(self.scaler.transform(a), y[idx])

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self.scaler.transform(matrix(x, self.feature_names)) @ self.coef + self.intercept

    def gain_importance(self) -> np.ndarray:
        # On standardized inputs |coefficient| is the effect of a one-std move.
        return np.abs(self.coef)

    def _save_native(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(
                fh,
                coef=self.coef,
                intercept=np.array([self.intercept]),
                mean=self.scaler.mean,
                std=self.scaler.std,
            )

    def _load_native(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as z:
            self.coef, self.intercept = z["coef"], float(z["intercept"][0])
            self.scaler = Standardizer(z["mean"], z["std"])
