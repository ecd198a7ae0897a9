"""Forecasting models: six families behind one interface, the ensemble, and their training.

Families: lightgbm, xgboost, tcn, lstm, bayesian_ridge, regime_adaptive (see each module). Artifacts are
native formats plus a JSON manifest (base.py); never pickle.
"""

from __future__ import annotations

from pathlib import Path

from portfolio_dagster.quant.models.base import (
    INTERVAL_QUANTILES,
    ArtifactError,
    Forecaster,
    read_manifest,
)
from portfolio_dagster.quant.models.bayesian_ridge import BayesianRidgeForecaster
from portfolio_dagster.quant.models.ensemble import ENSEMBLE, Ensemble
from portfolio_dagster.quant.models.lightgbm import LightGBMForecaster
from portfolio_dagster.quant.models.regime_adaptive import RegimeAdaptiveForecaster
from portfolio_dagster.quant.models.xgboost import XGBoostForecaster

# The sequence families (tcn, lstm) import torch and Lightning (seconds): loaded on first use only.
FAMILIES = ("lightgbm", "xgboost", "tcn", "lstm", "bayesian_ridge", "regime_adaptive")
SEQUENCE_FAMILIES = ("tcn", "lstm")


def family_class(name: str) -> type[Forecaster]:
    """The Forecaster class of a model family name (the torch families imported only when asked for)."""
    if name == "tcn":
        from portfolio_dagster.quant.models.tcn import TCNForecaster

        return TCNForecaster
    if name == "lstm":
        from portfolio_dagster.quant.models.lstm import LSTMForecaster

        return LSTMForecaster
    classes = {
        c.family: c
        for c in (LightGBMForecaster, XGBoostForecaster, BayesianRidgeForecaster, RegimeAdaptiveForecaster)
    }
    if name not in classes:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return classes[name]


def load_model(manifest: Path) -> Forecaster:
    """Any family's model from its manifest; ArtifactError when missing or corrupt."""
    return family_class(read_manifest(manifest)["family"]).load(manifest)


__all__ = [
    "ENSEMBLE",
    "FAMILIES",
    "SEQUENCE_FAMILIES",
    "INTERVAL_QUANTILES",
    "ArtifactError",
    "Ensemble",
    "Forecaster",
    "family_class",
    "load_model",
]
