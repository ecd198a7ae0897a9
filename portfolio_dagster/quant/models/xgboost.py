"""XGBoost (hist trees, CPU); early stopping on the validation window; native UBJSON artifact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from portfolio_dagster.quant.models.base import Forecaster, matrix, subsample


class XGBoostForecaster(Forecaster):
    family = "xgboost"
    native_suffix = ".ubj"

    def __init__(self, params: dict | None = None, seed: int = 7, threads: int = 1) -> None:
        super().__init__(params, seed, threads)
        self.booster: xgb.Booster | None = None

    def _xgb_params(self) -> dict:
        p = self.params
        return {
            "objective": "reg:squarederror", "eta": p.get("learning_rate", 0.05),
            "max_depth": p.get("max_depth", 4), "min_child_weight": p.get("min_child_weight", 50.0),
            "subsample": p.get("subsample", 0.8), "colsample_bytree": p.get("colsample_bytree", 0.8),
            "tree_method": "hist", "seed": self.seed, "nthread": self.threads, "verbosity": 0,
        }

    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray) -> None:
        idx = subsample(len(y), self.params.get("max_train_rows"), self.seed)
        train = xgb.DMatrix(matrix(x, self.feature_names)[idx], label=y[idx], feature_names=self.feature_names,
                            nthread=self.threads)
        evals, rounds = [], self.params.get("early_stopping_rounds")
        if len(y_val) and rounds:
            evals = [(xgb.DMatrix(matrix(x_val, self.feature_names), label=y_val,
                                  feature_names=self.feature_names, nthread=self.threads), "validation")]
        self.booster = xgb.train(self._xgb_params(), train, num_boost_round=self.params.get("n_estimators", 100),
                                 evals=evals, early_stopping_rounds=rounds if evals else None,
                                 verbose_eval=False)
        if evals:
            # Keep only the trees up to the best validation round.
            self.booster = self.booster[: self.booster.best_iteration + 1]

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        data = xgb.DMatrix(matrix(x, self.feature_names), feature_names=self.feature_names, nthread=self.threads)
        return self.booster.predict(data)

    def gain_importance(self) -> np.ndarray:
        score = self.booster.get_score(importance_type="total_gain")
        return np.asarray([float(score.get(n, 0.0)) for n in self.feature_names])

    def _save_native(self, path: Path) -> None:
        self.booster.save_model(str(path))

    def _load_native(self, path: Path) -> None:
        booster = xgb.Booster(params={"nthread": self.threads})
        booster.load_model(str(path))
        self.booster = booster
