"""LightGBM gradient-boosted trees; early stopping on the validation window; native text artifact.

Objectives: `regression` (squared error on the target) or `lambdarank` (each date a query, relevance the
target's within-date quintile; early stopping on NDCG@5): a ranking model's output is a score, mapped
to a forward return by the output map (base.py)."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from portfolio_dagster.quant.models.base import (
    Forecaster,
    date_groups,
    matrix,
    relevance_grades,
    subsample_dates,
)

OBJECTIVES = ("regression", "lambdarank")


class LightGBMForecaster(Forecaster):
    """Gradient-boosted trees (LightGBM), early stopping on the validation window, stored as native text."""

    family = "lightgbm"
    native_suffix = ".txt"

    def __init__(self, params: dict | None = None, seed: int = 7, threads: int = 1) -> None:
        super().__init__(params, seed, threads)
        self.booster: lgb.Booster | None = None

    @property
    def ranking(self) -> bool:
        return self.params.get("objective", "regression") == "lambdarank"

    def _lgb_params(self) -> dict:
        p = self.params
        objective = p.get("objective", "regression")
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown lightgbm objective {objective!r}; known: {', '.join(OBJECTIVES)}")
        ranking = {"metric": "ndcg", "eval_at": [5]} if self.ranking else {}
        return ranking | {
            "objective": objective,
            "learning_rate": p.get("learning_rate", 0.05),
            "num_leaves": p.get("num_leaves", 15),
            "min_child_samples": p.get("min_child_samples", 200),
            "bagging_fraction": p.get("subsample", 0.8),
            "bagging_freq": 1,
            "feature_fraction": p.get("colsample_bytree", 0.8),
            "seed": self.seed,
            "num_threads": self.threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _dataset(self, x: pd.DataFrame, y: np.ndarray, **kwargs) -> lgb.Dataset:
        if not self.ranking:
            return lgb.Dataset(matrix(x, self.feature_names), y, feature_name=self.feature_names, **kwargs)
        sizes, _ = date_groups(x["date"])
        return lgb.Dataset(
            matrix(x, self.feature_names),
            relevance_grades(y, x["date"]),
            group=sizes,
            feature_name=self.feature_names,
            **kwargs,
        )

    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray) -> None:
        limit = self.params.get("max_train_rows")
        idx = subsample_dates(x["date"], limit, self.seed)  # whole dates: the cross-sections stay whole
        train = self._dataset(x.iloc[idx], y[idx], free_raw_data=True)
        callbacks, valid_sets = [], []
        rounds = self.params.get("early_stopping_rounds")
        if len(y_val) and rounds:
            valid_sets = [self._dataset(x_val, y_val, reference=train)]
            callbacks = [lgb.early_stopping(rounds, verbose=False)]
        self.booster = lgb.train(
            self._lgb_params(),
            train,
            num_boost_round=self.params.get("n_estimators", 100),
            valid_sets=valid_sets,
            callbacks=callbacks,
        )

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(matrix(x, self.feature_names), num_threads=self.threads)

    def gain_importance(self) -> np.ndarray:
        return self.booster.feature_importance("gain").astype(float)

    def _save_native(self, path: Path) -> None:
        path.write_text(self.booster.model_to_string())

    def _load_native(self, path: Path) -> None:
        self.booster = lgb.Booster(model_str=path.read_text())
