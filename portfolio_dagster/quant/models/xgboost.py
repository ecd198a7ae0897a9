"""XGBoost (hist trees, CPU); early stopping on the validation window; native UBJSON artifact.

Objectives: `reg:squarederror` or `rank:pairwise` (each date a query, relevance the target's within-date
quintile; early stopping on NDCG@5): a ranking model's output is a score, mapped to a forward return by
the output map (base.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from portfolio_dagster.quant.models.base import (
    Forecaster,
    date_groups,
    matrix,
    relevance_grades,
    subsample_dates,
)

OBJECTIVES = ("reg:squarederror", "rank:pairwise")


class XGBoostForecaster(Forecaster):
    """Gradient-boosted trees (XGBoost) with early stopping on the validation window, stored as UBJSON."""

    family = "xgboost"
    native_suffix = ".ubj"

    def __init__(self, params: dict | None = None, seed: int = 7, threads: int = 1) -> None:
        super().__init__(params, seed, threads)
        self.booster: xgb.Booster | None = None

    @property
    def ranking(self) -> bool:
        return self.params.get("objective", "reg:squarederror") == "rank:pairwise"

    def _xgb_params(self) -> dict:
        p = self.params
        objective = p.get("objective", "reg:squarederror")
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown xgboost objective {objective!r}; known: {', '.join(OBJECTIVES)}")
        ranking = {"eval_metric": "ndcg@5"} if self.ranking else {}
        return ranking | {
            "objective": objective,
            "eta": p.get("learning_rate", 0.05),
            "max_depth": p.get("max_depth", 4),
            "min_child_weight": p.get("min_child_weight", 50.0),
            "subsample": p.get("subsample", 0.8),
            "colsample_bytree": p.get("colsample_bytree", 0.8),
            "tree_method": "hist",
            "seed": self.seed,
            "nthread": self.threads,
            "verbosity": 0,
        }

    def _matrix(self, x: pd.DataFrame, y: np.ndarray) -> xgb.DMatrix:
        if not self.ranking:
            return xgb.DMatrix(
                matrix(x, self.feature_names), label=y, feature_names=self.feature_names, nthread=self.threads
            )
        _, qid = date_groups(x["date"])
        return xgb.DMatrix(
            matrix(x, self.feature_names),
            label=relevance_grades(y, x["date"]),
            qid=qid,
            feature_names=self.feature_names,
            nthread=self.threads,
        )

    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray) -> None:
        limit = self.params.get("max_train_rows")
        idx = subsample_dates(x["date"], limit, self.seed)  # whole dates: the cross-sections stay whole
        train = self._matrix(x.iloc[idx], y[idx])
        evals, rounds = [], self.params.get("early_stopping_rounds")
        if len(y_val) and rounds:
            evals = [(self._matrix(x_val, y_val), "validation")]
        self.booster = xgb.train(
            self._xgb_params(),
            train,
            num_boost_round=self.params.get("n_estimators", 100),
            evals=evals,
            early_stopping_rounds=rounds if evals else None,
            verbose_eval=False,
        )
        if evals:
            # Keep only the trees up to the best validation round.
            self.booster = self.booster[: self.booster.best_iteration + 1]

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        data = xgb.DMatrix(
            matrix(x, self.feature_names), feature_names=self.feature_names, nthread=self.threads
        )
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
