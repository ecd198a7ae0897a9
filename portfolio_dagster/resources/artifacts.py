"""Files beside the warehouse: model artifacts (native formats) and reports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg

from portfolio_dagster.quant.models import ArtifactError


class ArtifactStore(dg.ConfigurableResource):
    root: str

    @property
    def models_dir(self) -> Path:
        return Path(self.root) / "models"

    @property
    def risk_models_dir(self) -> Path:
        """The risk model's trained sets (assets/risk_forecasts.py: JSON, numpy .npz, LightGBM text)."""
        return Path(self.root) / "risk_models"

    @property
    def drift_profiles_dir(self) -> Path:
        """The feature-drift check's training profiles per model set (resources/feature_drift.py: JSON)."""
        return Path(self.root) / "drift_profiles"

    @property
    def reports_dir(self) -> Path:
        path = Path(self.root) / "reports"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def model_path(self, model_id: str, suffix: str) -> Path:
        return self.models_dir / f"{model_id}{suffix}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verified(path: str | Path, expected_sha256: str) -> Path:
    """The artifact's path after checking it exists and is the file the registry recorded."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model artifact missing: {path}")
    if sha256(path) != expected_sha256:
        raise ArtifactError(f"model artifact corrupt (checksum mismatch): {path}")
    return path
