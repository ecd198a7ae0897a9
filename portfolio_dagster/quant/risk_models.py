"""The risk model's families, all forecasting the h-session variance (quant/risk.py's target) at the close
of d from returns dated <= d:
- `ewma`: RiskMetrics (J.P. Morgan 1996), sigma2_d = lambda sigma2_(d-1) + (1 - lambda) r_d^2 with
  lambda = 0.94, times h (the square-root-of-time rule; no mean reversion);
- `har`: Corsi's (2009) heterogeneous autoregression on daily squared returns, the mean daily variance
  of the next h sessions regressed (pooled OLS) on the last day's, week's and month's mean squared return;
- ML families on log-variance inputs (log squared returns over 1/5/22/63/126 sessions, the EWMA, the
  universe's, and range-based Parkinson / Garman-Klass variances where OHLC exist): `log_linear` (a
  log-link linear model) and `lightgbm`, both learning the multiplier of the EWMA forecast (the ratio of
  the realized variance to it) by the gamma deviance, which is QLIKE: they fit the loss they are scored by.

Why a multiplier of EWMA fitted by QLIKE, not log variance by least squares (the families' first form):
the log of a 1-session variance target is log r^2, whose left tail (a flat close, r ~ 0) is unbounded, so a
least-squares fit in logs is pulled by days that carry no information about risk; and a forecast that is
low where the realized variance is high is what QLIKE punishes most (y / f). On the bundled sample the
log-variance fits scored QLIKE -4.28 (log_linear) and -4.80 (lightgbm) against EWMA's -7.20 at one
session. The gamma deviance of y against f, 2 (y / f - log(y / f) - 1), is QLIKE up to terms that do not
depend on f, and starting from EWMA the trees and the linear model only learn where the level departs
from it (mean reversion over long horizons, the market's variance).
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


class _EwmaMultiplierRisk(RiskModel):
    """Learns log(realized variance / the EWMA forecast) from the log-variance inputs with a log link and
    the gamma deviance (QLIKE, see the module's docstring); the forecast is the EWMA forecast times
    exp(prediction), rescaled by mean(y / forecast) on the fit rows, the level QLIKE is minimized at. A
    fitted model predicts from its native state (arrays, LightGBM model text: quant/risk_state.py), so a
    model read back from the cache predicts exactly what the freshly fitted one did."""

    def _fit_log(self, x: np.ndarray, ratio: np.ndarray) -> np.ndarray | None:
        """Fit log(ratio) on x; returns exp of the fitted log-multiplier of the fit rows where the fit
        yields it (else None: predict_log computes it)."""
        raise NotImplementedError

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        """log(forecast / EWMA forecast) of the input matrix (columns: inputs_), before the rescale."""
        raise NotImplementedError

    def _ewma(self, rows: pd.DataFrame) -> np.ndarray:
        return EwmaRisk(self.horizon).predict(rows)

    def fit(self, rows: pd.DataFrame, target_var: np.ndarray) -> _EwmaMultiplierRisk:
        self.inputs_ = ml_input_names(rows)
        x = rows[self.inputs_].to_numpy(dtype=float)
        y = np.maximum(np.asarray(target_var, dtype=float), _VAR_FLOOR)
        base = self._ewma(rows)
        fitted = self._fit_log(x, y / base)
        if fitted is None:
            fitted = np.exp(self.predict_log(x))
        self.scale_ = float(np.mean(y / (base * fitted)))
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        x = rows[self.inputs_].to_numpy(dtype=float)
        return self.scale_ * self._ewma(rows) * np.exp(self.predict_log(x))


class LogLinearRisk(_EwmaMultiplierRisk):
    """A gamma GLM with a log link (scikit-learn's GammaRegressor, a light L2 penalty) of the EWMA
    multiplier on the standardized log-variance inputs (missing inputs: the training mean). State: fill_
    (training means), mean_, sd_ (standardization), coef_, intercept_."""

    name = LOG_LINEAR
    penalty = 1e-3  # fixed a priori: the inputs are few, standardized and many times outnumbered by rows

    def _fit_log(self, x: np.ndarray, ratio: np.ndarray) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import GammaRegressor
        from sklearn.preprocessing import StandardScaler

        imputer = SimpleImputer(keep_empty_features=True).fit(x)
        filled = imputer.transform(x)
        scaler = StandardScaler().fit(filled)
        glm = GammaRegressor(alpha=self.penalty, solver="newton-cholesky", max_iter=200)
        glm.fit(scaler.transform(filled), ratio)
        self.fill_ = np.asarray(imputer.statistics_, dtype=float)
        self.mean_, self.sd_ = np.asarray(scaler.mean_, float), np.asarray(scaler.scale_, float)
        self.coef_, self.intercept_ = np.asarray(glm.coef_, float), float(glm.intercept_)

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), self.fill_, x)
        return ((filled - self.mean_) / self.sd_) @ self.coef_ + self.intercept_


class LightGBMRisk(_EwmaMultiplierRisk):
    """Gradient-boosted trees (LightGBM, objective gamma: log link) of the EWMA multiplier: small, shallow
    and deterministic. State: the booster's model text (model_text_), which it predicts from."""

    name = LIGHTGBM

    def _fit_log(self, x: np.ndarray, ratio: np.ndarray) -> np.ndarray:
        import lightgbm as lgb

        fitted: list[np.ndarray] = []

        def keep_training_scores(env) -> None:
            # The booster's own scores of the fit rows after the last round: exp of the same trees'
            # sum that predict_log gives (equal to the last bit or one ulp). Predicting the fit rows
            # again cost a third of the fit.
            if env.iteration == env.end_iteration - 1:
                env.model.eval_train(feval=_keeping(fitted))

        model = lgb.LGBMRegressor(
            objective="gamma",
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
        ).fit(x, ratio, callbacks=[keep_training_scores])
        self.load_model_text(model.booster_.model_to_string())
        return fitted[0]

    def load_model_text(self, text: str) -> None:
        """Predict from this LightGBM model text (the fitted or the cached booster)."""
        import lightgbm as lgb

        self.model_text_ = text
        self.booster_ = lgb.Booster(model_str=text)

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        return self.booster_.predict(x, raw_score=True, num_threads=self.threads)


def _keeping(into: list[np.ndarray]):
    """A LightGBM evaluation function that keeps a copy of the scores it is given (its metric is 0)."""

    def evaluate(preds: np.ndarray, _data) -> tuple[str, float, bool]:
        into.append(np.array(preds, dtype=float, copy=True))
        return "kept", 0.0, False

    return evaluate


_CLASSES = {c.name: c for c in (EwmaRisk, HarRisk, LogLinearRisk, LightGBMRisk)}


def risk_model_class(name: str) -> type[RiskModel]:
    """The estimator class of a risk model name (ewma, har, log_linear, lightgbm)."""
    if name not in _CLASSES:
        raise ValueError(f"unknown risk model {name!r}; known: {', '.join(_CLASSES)}")
    return _CLASSES[name]
