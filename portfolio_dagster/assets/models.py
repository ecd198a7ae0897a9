"""models: a model set per (retrain date, horizon): every enabled family plus the ensemble, trained
walk-forward with purge, embargo, a validation window (early stopping) and a later calibration window
(intervals, ensemble weights); registry lineage and feature importance.

A graph-backed asset: its steps (assets/model_steps.py) read the warehouse once into a training
snapshot, train one horizon each (at once, on the multiprocess executor or a pod per step), and write
the registry in one small serialized step (pool `warehouse`)."""

import dagster as dg

from portfolio_dagster.assets.model_registry import (
    ML_OFF_NOTE,
    MODEL_LINEAGE_SECTIONS,
    model_input_columns,
    predict_registered_set,
)
from portfolio_dagster.assets.model_steps import (
    model_inputs,
    register_models,
    train_models,
    training_table,
)
from portfolio_dagster.assets.stage import MODELS, phase_tags

__all__ = [
    "ML_OFF_NOTE",
    "MODEL_LINEAGE_SECTIONS",
    "model_input_columns",
    "models",
    "predict_registered_set",
    "training_table",
]


@dg.graph_asset(
    ins={
        "features": dg.AssetIn(key="features", dagster_type=dg.Nothing),
        "targets": dg.AssetIn(key="targets", dagster_type=dg.Nothing),
    },
    tags=phase_tags(MODELS),
    group_name="models",
    kinds={"duckdb", "lightgbm", "xgboost", "pytorch", "sklearn"},
    description="A model set per (retrain date, horizon) and configuration candidate: the enabled families "
    "(lightgbm, xgboost, tcn, lstm, bayesian_ridge, regime_adaptive) and their calibration-skill-"
    "weighted ensemble; with models.candidates, the nested walk-forward choice per retrain date "
    "(registry `selected`). Incremental: trains only the sets missing from model_registry. Steps: "
    "model_inputs (a training snapshot), train_models per horizon (in parallel), register_models.",
)
def models(features, targets):
    horizons, plan = model_inputs(features=features, targets=targets)
    return register_models(trained=horizons.map(train_models).collect(), plan=plan)
