"""Forecasting models behind one small interface; artifacts in native formats, never pickle."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd

# Central 80% prediction interval.
INTERVAL_QUANTILES = (0.10, 0.90)
VALIDATION_SHARE = 0.2


class ArtifactError(RuntimeError):
    """A model artifact that is missing or cannot be read."""


class Forecaster(Protocol):
    name: str

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> "Forecaster": ...
    def predict(self, x: pd.DataFrame) -> np.ndarray: ...
    def predict_interval(self, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    def save(self, path: Path) -> None: ...


@dataclass
class LightGBMForecaster:
    """Gradient-boosted trees; interval from quantiles of residuals on a held-out validation tail."""

    params: dict
    seed: int = 7
    threads: int = 1
    name: str = "lightgbm"
    booster: lgb.Booster | None = None
    residual_quantiles: tuple[float, float] = (0.0, 0.0)
    metrics: dict = field(default_factory=dict)

    def _lgb_params(self) -> dict:
        p = dict(self.params)
        return {
            "objective": "regression", "learning_rate": p.get("learning_rate", 0.05),
            "num_leaves": p.get("num_leaves", 15), "min_child_samples": p.get("min_child_samples", 200),
            "bagging_fraction": p.get("subsample", 0.8), "bagging_freq": 1,
            "feature_fraction": p.get("colsample_bytree", 0.8), "seed": self.seed,
            "num_threads": self.threads, "deterministic": True, "force_row_wise": True, "verbose": -1,
        }

    def fit(self, x: pd.DataFrame, y: np.ndarray, dates: pd.Series | None = None) -> "LightGBMForecaster":
        """Fit on the earlier part; the later `VALIDATION_SHARE` (by date) calibrates the interval."""
        order = np.argsort(dates.to_numpy(), kind="stable") if dates is not None else np.arange(len(y))
        x, y = x.iloc[order], np.asarray(y)[order]
        cut = int(len(y) * (1 - VALIDATION_SHARE))
        train = lgb.Dataset(x.iloc[:cut], y[:cut], free_raw_data=True)
        self.booster = lgb.train(self._lgb_params(), train, num_boost_round=self.params.get("n_estimators", 150))
        resid = y[cut:] - self.booster.predict(x.iloc[cut:])
        if resid.size:
            self.residual_quantiles = tuple(float(q) for q in np.quantile(resid, INTERVAL_QUANTILES))
            pred = y[cut:] - resid
            self.metrics = {"validation_rows": int(resid.size),
                            "validation_mae": float(np.mean(np.abs(resid))),
                            "validation_directional_accuracy": float(np.mean(np.sign(pred) == np.sign(y[cut:])))}
        self.metrics["train_rows"] = int(cut)
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(x)

    def predict_interval(self, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pred = self.predict(x)
        lo, hi = self.residual_quantiles
        return pred, pred + lo, pred + hi

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.booster.model_to_string())
        path.with_suffix(".json").write_text(json.dumps({"residual_quantiles": self.residual_quantiles}))

    @classmethod
    def load(cls, path: Path) -> "LightGBMForecaster":
        try:
            booster = lgb.Booster(model_str=path.read_text())
            extra = json.loads(path.with_suffix(".json").read_text())
        except FileNotFoundError:
            raise ArtifactError(f"model artifact missing: {path}") from None
        except (lgb.basic.LightGBMError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"model artifact corrupt: {path}: {str(exc).splitlines()[0]}") from None
        model = cls(params={}, booster=booster)
        model.residual_quantiles = tuple(extra["residual_quantiles"])
        return model
