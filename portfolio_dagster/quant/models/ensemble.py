"""The ensemble: a weighted mean of the families, weights from their calibration-window skill.

Weight of family k is proportional to max(IC_k, 0), its Pearson correlation of forward-return forecast
with outcome on the calibration window (after the fit rows and the early-stopping validation window,
each purged; training.py passes it to from_validation); when no family shows positive skill the weights
are equal. The interval is split-conformal on the ensemble's own residuals there. Stored as a JSON
artifact with the model set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from portfolio_dagster.quant.models.base import INTERVAL_QUANTILES, ArtifactError

ENSEMBLE = "ensemble"


def information_coefficient(pred: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; 0 where either side is constant or there are < 3 rows."""
    pred, y = np.asarray(pred, float), np.asarray(y, float)
    if len(y) < 3 or np.std(pred) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(pred, y)[0, 1])


@dataclass
class Ensemble:
    """Combination of a model set's families: weights from their validation IC, conformal residual
    quantiles for the intervals."""

    weights: dict[str, float]
    residual_quantiles: tuple[float, float] = (0.0, 0.0)
    validation_ic: dict[str, float] | None = None

    @classmethod
    def from_validation(cls, val_preds: dict[str, np.ndarray], y_val: np.ndarray) -> Ensemble:
        ic = {k: information_coefficient(p, y_val) for k, p in val_preds.items()}
        positive = {k: max(v, 0.0) for k, v in ic.items()}
        total = sum(positive.values())
        weights = {k: (v / total if total > 0 else 1.0 / len(ic)) for k, v in positive.items()}
        ens = cls(weights, validation_ic=ic)
        if len(y_val):
            resid = np.asarray(y_val, float) - ens.combine(val_preds)
            ens.residual_quantiles = tuple(float(q) for q in np.quantile(resid, INTERVAL_QUANTILES))
        return ens

    def combine(self, preds: dict[str, np.ndarray]) -> np.ndarray:
        missing = set(self.weights) - set(preds)
        if missing:
            raise ValueError(f"ensemble lacks predictions of: {', '.join(sorted(missing))}")
        return sum(w * np.asarray(preds[k], float) for k, w in sorted(self.weights.items()))

    def interval(self, preds: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.combine(preds)
        return p, p + self.residual_quantiles[0], p + self.residual_quantiles[1]

    def save(self, path: Path) -> Path:
        path = Path(path).with_suffix(".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {
                    "family": ENSEMBLE,
                    "weights": self.weights,
                    "residual_quantiles": list(self.residual_quantiles),
                    "validation_ic": self.validation_ic,
                },
                sort_keys=True,
            )
        )
        return path

    @classmethod
    def load(cls, path: Path) -> Ensemble:
        try:
            d = json.loads(Path(path).read_text())
            return cls(
                {k: float(v) for k, v in d["weights"].items()},
                tuple(d["residual_quantiles"]),
                d.get("validation_ic"),
            )
        except FileNotFoundError:
            raise ArtifactError(f"model artifact missing: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ArtifactError(f"model artifact corrupt: {path}: {exc!r}") from None
