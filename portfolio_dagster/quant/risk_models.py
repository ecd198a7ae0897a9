"""The risk model's families, all forecasting the h-session variance (quant/risk.py's target) at the close
of d from returns dated <= d:
- `ewma`: RiskMetrics (J.P. Morgan 1996), sigma2_d = lambda sigma2_(d-1) + (1 - lambda) r_d^2 with
  lambda = 0.94, times h (the square-root-of-time rule; no mean reversion);
- `har`: Corsi's (2009) heterogeneous autoregression on daily squared returns, the mean daily variance
  of the next h sessions regressed (pooled OLS) on the last day's, week's and month's mean squared return;
- ML families on log-variance inputs (log squared returns over 1/5/22/63/126 sessions, the EWMA, the
  universe's, and range-based Parkinson / Garman-Klass variances where OHLC exist): `log_linear` (ridge)
  and `lightgbm`, both learning log variance, rescaled on their fit rows so the level is unbiased.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.risk import _VAR_FLOOR, EWMA, HAR, LIGHTGBM, LOG_LINEAR, ml_input_names

HAR_WINDOWS = (1, 5, 22)


class RiskModel:
    """A risk estimator: fit(rows, target_var) on training rows, predict(rows) -> h-session variances."""

    name = ""

    def __init__(self, horizon: int, seed: int = 7, threads: int = 1) -> None:
        self.horizon, self.seed, self.threads = int(horizon), seed, threads

    def fit(self, rows: pd.DataFrame, target_var: np.ndarray) -> RiskModel:
        """Learn from rows (risk_inputs columns) and their realized h-session variances."""
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """The h-session variance forecast of each row (> 0)."""
        raise NotImplementedError


class EwmaRisk(RiskModel):
    """RiskMetrics: h times the EWMA daily variance; nothing to fit."""

    name = EWMA

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return self.horizon * np.maximum(rows["ewma_var"].to_numpy(dtype=float), _VAR_FLOOR)


class HarRisk(RiskModel):
    """HAR (Corsi 2009) on daily squared returns: pooled OLS of the next h sessions' mean daily variance on
    the mean squared return of the last 1, 5 and 22 sessions."""

    name = HAR

    def _design(self, rows: pd.DataFrame) -> np.ndarray:
        x = rows[[f"rv_{k}" for k in HAR_WINDOWS]].to_numpy(dtype=float)
        return np.column_stack([np.ones(len(x)), x])

    def fit(self, rows: pd.DataFrame, target_var: np.ndarray) -> HarRisk:
        y = np.asarray(target_var, dtype=float) / self.horizon
        self.coef_, *_ = np.linalg.lstsq(self._design(rows), y, rcond=None)
        # A variance floor from the training rows: OLS in levels can go below zero.
        self.floor_ = max(float(np.quantile(y, 0.01)), _VAR_FLOOR)
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return self.horizon * np.maximum(self._design(rows) @ self.coef_, self.floor_)


class _LogVarianceRisk(RiskModel):
    """Learns log(target variance) from the log-variance inputs; exp(prediction) is a median, so it is
    rescaled by mean(y / exp(fit prediction)) on the fit rows, the level QLIKE is minimized at. A fitted
    model predicts from its native state (arrays, LightGBM model text: quant/risk_state.py), so a model
    read back from the cache predicts exactly what the freshly fitted one did."""

    def _fit_log(self, x: np.ndarray, log_y: np.ndarray) -> None:
        raise NotImplementedError

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        """The log-variance prediction of the input matrix (columns: inputs_)."""
        raise NotImplementedError

    def fit(self, rows: pd.DataFrame, target_var: np.ndarray) -> _LogVarianceRisk:
        self.inputs_ = ml_input_names(rows)
        x = rows[self.inputs_].to_numpy(dtype=float)
        y = np.asarray(target_var, dtype=float)
        self._fit_log(x, np.log(np.maximum(y, _VAR_FLOOR)))
        self.scale_ = float(np.mean(y / np.exp(self.predict_log(x))))
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        x = rows[self.inputs_].to_numpy(dtype=float)
        return self.scale_ * np.exp(self.predict_log(x))


class LogLinearRisk(_LogVarianceRisk):
    """Ridge regression of log variance on the standardized log-variance inputs (missing inputs: the
    training mean). State: fill_ (training means), mean_, sd_ (standardization), coef_, intercept_."""

    name = LOG_LINEAR

    def _fit_log(self, x: np.ndarray, log_y: np.ndarray) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler

        imputer = SimpleImputer(keep_empty_features=True).fit(x)
        filled = imputer.transform(x)
        scaler = StandardScaler().fit(filled)
        ridge = Ridge(alpha=1.0).fit(scaler.transform(filled), log_y)
        self.fill_ = np.asarray(imputer.statistics_, dtype=float)
        self.mean_, self.sd_ = np.asarray(scaler.mean_, float), np.asarray(scaler.scale_, float)
        self.coef_, self.intercept_ = np.asarray(ridge.coef_, float), float(ridge.intercept_)

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), self.fill_, x)
        return ((filled - self.mean_) / self.sd_) @ self.coef_ + self.intercept_


class LightGBMRisk(_LogVarianceRisk):
    """Gradient-boosted trees (LightGBM) on log variance: small, shallow and deterministic. State: the
    booster's model text (model_text_), which it predicts from."""

    name = LIGHTGBM

    def _fit_log(self, x: np.ndarray, log_y: np.ndarray) -> None:
        import lightgbm as lgb

        model = lgb.LGBMRegressor(
            n_estimators=150,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=200,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.seed,
            n_jobs=self.threads,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        ).fit(x, log_y)
        self.load_model_text(model.booster_.model_to_string())

    def load_model_text(self, text: str) -> None:
        """Predict from this LightGBM model text (the fitted or the cached booster)."""
        import lightgbm as lgb

        self.model_text_ = text
        self.booster_ = lgb.Booster(model_str=text)

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        return self.booster_.predict(x, num_threads=self.threads)


_CLASSES = {c.name: c for c in (EwmaRisk, HarRisk, LogLinearRisk, LightGBMRisk)}


def risk_model_class(name: str) -> type[RiskModel]:
    """The estimator class of a risk model name (ewma, har, log_linear, lightgbm)."""
    if name not in _CLASSES:
        raise ValueError(f"unknown risk model {name!r}; known: {', '.join(_CLASSES)}")
    return _CLASSES[name]
