"""models, forecasts and regimes materialized by Dagster over a real DuckDB warehouse whose prices,
features and targets are written directly from labelled synthetic prices: registry lineage, feature
importance, forecasts per family + ensemble, OOS metrics, ML off, and a corrupt artifact."""

from __future__ import annotations

import json
import os

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.models import models
from portfolio_dagster.assets.regimes import regimes
from portfolio_dagster.config import load_config
from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant import targets as target_set
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from tests.pipeline_helpers import most_steps_at_once

FIRST, LAST = "2006-01-02", "2007-12-31"
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}
FAMILIES = ["lightgbm", "xgboost", "bayesian_ridge", "regime_adaptive"]


def _prices() -> pd.DataFrame:
    """Labelled synthetic closes for 5 tickers, 2003-2007, random walks with drift."""
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2003-01-01", "2007-12-31")
    out = []
    for i in range(5):
        close = 50 * np.exp(np.cumsum(0.0004 + 0.015 * rng.normal(size=len(dates))))
        out.append(pd.DataFrame({"ticker": f"SYN{i}", "date": dates, "close": close}))
    return pd.concat(out, ignore_index=True)


def _setup(root, enabled=FAMILIES, **models_overrides) -> tuple[Warehouse, dict]:
    cfg = load_config().model_dump(mode="json")
    cfg["data"].update(start="2003-01-01", end="2007-12-31")
    cfg["backtest"]["start"] = FIRST
    cfg["models"].update(
        enabled=list(enabled),
        min_train_days=300,
        validation_days=120,
        regime_min_train_days=300,
        **models_overrides,
    )
    cfg["models"]["lightgbm"]["n_estimators"] = 20
    cfg["models"]["xgboost"]["n_estimators"] = 20
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    px = _prices()
    warehouse.replace_where("prices", px.assign(date=px["date"].dt.date, source="synthetic"))
    feats = feature_set.compute(px)
    warehouse.replace_where("features", feats.assign(date=feats["date"].dt.date))
    tg = target_set.compute(px, tuple(cfg["targets"]["horizons"]))
    warehouse.replace_where("targets", tg.assign(date=tg["date"].dt.date))
    resources = {
        "settings": PipelineSettings(config_path=str(root / "config.yaml")),
        "warehouse": warehouse,
        "artifacts": ArtifactStore(root=str(root)),
    }
    return warehouse, resources


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    root = tmp_path_factory.mktemp("models_assets")
    warehouse, resources = _setup(root)
    trained = dg.materialize([models], resources=resources)
    ranged = dg.materialize([forecasts, regimes], resources=resources, tags=RANGE_TAGS)
    assert trained.success and ranged.success
    tables = {
        t: warehouse.query(f"SELECT * FROM {t}")
        for t in ("model_registry", "forecasts", "regimes", "model_metrics", "feature_importance")
    }
    meta = {
        e.asset_key.path[-1]: e.materialization.metadata
        for r in (trained, ranged)
        for e in r.get_asset_materialization_events()
    }
    return {"root": root, "warehouse": warehouse, "resources": resources, "tables": tables, "meta": meta}


def test_registry_has_lineage_for_every_family_and_the_ensemble(materialized):
    reg = materialized["tables"]["model_registry"]
    assert set(reg["model_type"]) == {*FAMILIES, "ensemble"}
    assert (pd.to_datetime(reg["train_end"]) < pd.to_datetime(reg["valid_from"])).all()
    assert (pd.to_datetime(reg["fit_end"]) < pd.to_datetime(reg["validation_start"])).all()
    assert set(reg["horizon"]) == set(load_config().targets.horizons)
    assert reg["config_hash"].nunique() == 1
    selected = list(feature_set.selected_feature_names(load_config().features.selected))
    assert all(json.loads(f) == selected for f in reg["features"])
    ens = reg[reg["model_type"] == "ensemble"]
    for m in ens["metrics"]:
        weights = json.loads(m)["weights"]
        assert set(weights) == set(FAMILIES) and sum(weights.values()) == pytest.approx(1.0)
    assert reg.groupby("model_set_id")["model_type"].count().eq(len(FAMILIES) + 1).all()


def test_forecasts_per_family_and_ensemble_with_intervals(materialized):
    fc = materialized["tables"]["forecasts"]
    assert set(fc["model"]) == {*FAMILIES, "ensemble"}
    assert (fc["lower"] <= fc["prediction"]).all() and (fc["prediction"] <= fc["upper"]).all()
    assert pd.to_datetime(fc["date"]).min() >= pd.Timestamp(FIRST)
    reg = materialized["tables"]["model_registry"]
    joined = fc.merge(reg[["model_id", "model_type", "valid_from"]], on="model_id")
    assert len(joined) == len(fc) and (joined["model"] == joined["model_type"]).all()
    assert (pd.to_datetime(joined["valid_from"]) <= pd.to_datetime(joined["date"])).all()


def test_metrics_importance_and_regimes_are_stored_and_shown(materialized):
    t, meta = materialized["tables"], materialized["meta"]
    skill = t["model_metrics"]
    assert set(skill["model"]) == {*FAMILIES, "ensemble"}
    assert skill["base_rate"].between(0, 1).all() and skill["interval_coverage"].between(0.5, 1).all()
    imp = t["feature_importance"]
    assert (
        set(imp["feature"]) == set(feature_set.selected_feature_names(load_config().features.selected))
        and imp["permutation"].notna().all()
    )
    assert "Permutation importance" in meta["models"]["feature_importance"].value
    assert "directional_accuracy" in meta["forecasts"]["oos_skill"].value
    reg = t["regimes"]
    assert len(reg) > 400 and set(reg["state"]) <= {"calm", "normal", "volatile", "crisis"}
    assert all(sum(json.loads(p).values()) == pytest.approx(1.0, abs=1e-5) for p in reg["probabilities"])


def test_retraining_is_incremental(materialized):
    again = dg.materialize([models], resources=materialized["resources"])
    meta = again.get_asset_materialization_events()[0].materialization.metadata
    assert meta["trained"].value == 0 and meta["model_sets_already_trained"].value > 0


def test_a_corrupt_artifact_fails_forecasts_with_a_clear_message(materialized, tmp_path):
    reg = materialized["tables"]["model_registry"]
    manifest = reg.loc[reg["model_type"] == "xgboost", "artifact"].iloc[0]
    original = open(manifest).read()
    try:
        with open(manifest, "w") as fh:
            fh.write(original.replace('"family"', '"famly"'))
        result = dg.materialize(
            [forecasts], resources=materialized["resources"], tags=RANGE_TAGS, raise_on_error=False
        )
        assert not result.success
        failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
        assert "checksum mismatch" in failure.step_failure_data.error.message
    finally:
        with open(manifest, "w") as fh:
            fh.write(original)


def test_ml_off_writes_no_forecasts_and_says_so(tmp_path):
    warehouse, resources = _setup(tmp_path, enabled=[])
    result = dg.materialize([models, forecasts, regimes], resources=resources, tags=RANGE_TAGS)
    assert result.success
    meta = {
        e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert meta["models"]["trained"].value == 0 and "ML is off" in meta["forecasts"]["note"].value
    assert warehouse.query("SELECT count(*) AS n FROM forecasts")["n"].iat[0] == 0
    assert warehouse.query("SELECT count(*) AS n FROM regimes")["n"].iat[0] > 0  # regimes do not need ML


@pytest.fixture(scope="module")
def selected(tmp_path_factory):
    root = tmp_path_factory.mktemp("models_selection")
    candidates = [
        {
            "name": "excess_rank",
            "target": "excess_return",
            "params": {"lightgbm": {"objective": "lambdarank"}},
        }
    ]
    warehouse, resources = _setup(
        root, enabled=["lightgbm", "bayesian_ridge"], retrain_frequency="quarterly", candidates=candidates
    )
    assert dg.materialize([models], resources=resources).success
    assert dg.materialize([forecasts], resources=resources, tags=RANGE_TAGS).success
    return warehouse, resources


def test_candidates_are_trained_counted_and_one_is_selected_per_period(selected):
    warehouse, _ = selected
    reg = warehouse.query("SELECT * FROM model_registry")
    # Each candidate is its own configuration: the backtest's count of distinct config hashes sees both.
    assert reg.groupby("candidate")["config_hash"].nunique().to_dict() == {"base": 1, "excess_rank": 1}
    assert warehouse.query("SELECT count(DISTINCT config_hash) AS n FROM model_registry")["n"].iat[0] == 2
    assert reg["selection_hash"].nunique() == 1
    sets = reg.drop_duplicates("model_set_id")
    per_period = sets.groupby(["horizon", "valid_from"])
    assert (per_period["candidate"].nunique() == 2).all() and (per_period["selected"].sum() == 1).all()
    # Once both candidates have inner history the better inner score wins; before, the base.
    ens = reg[reg["model_type"] == "ensemble"]
    active = 0
    for row in ens.itertuples():
        scores = json.loads(row.metrics)["selection"]["inner_scores"]
        if None in scores.values():
            assert json.loads(row.metrics)["selection"]["chosen"] == "base"
        else:
            active += 1
            assert json.loads(row.metrics)["selection"]["chosen"] == max(scores, key=scores.get)
    assert active > 0
    fc = warehouse.query("SELECT DISTINCT model_id FROM forecasts")
    chosen = set(reg.loc[reg["selected"], "model_id"])
    assert len(fc) and set(fc["model_id"]) <= chosen


def test_nested_choices_read_no_date_of_their_outer_period(selected):
    warehouse, _ = selected
    reg = warehouse.query("SELECT * FROM model_registry WHERE model_type = 'ensemble' ORDER BY valid_from")
    calendar = pd.DatetimeIndex(
        pd.to_datetime(warehouse.query("SELECT DISTINCT date FROM features")["date"])
    ).sort_values()
    embargo = load_config().models.embargo_days
    scored = 0
    for row in reg.itertuples():
        choice = json.loads(row.metrics)["selection"]
        assert choice["selected"] == row.selected and choice["candidate"] == row.candidate
        if choice["inner_last"] is None:
            continue
        scored += 1
        last, asof = (
            calendar.get_loc(pd.Timestamp(choice["inner_last"])),
            calendar.get_loc(pd.Timestamp(row.valid_from)),
        )
        assert last + row.horizon + embargo < asof
    assert scored > 0


def test_selection_is_incremental_and_stable(selected):
    warehouse, resources = selected
    before = warehouse.query("SELECT model_id, selected FROM model_registry ORDER BY model_id")
    again = dg.materialize([models], resources=resources)
    assert again.get_asset_materialization_events()[0].materialization.metadata["trained"].value == 0
    pd.testing.assert_frame_equal(
        before, warehouse.query("SELECT model_id, selected FROM model_registry ORDER BY model_id")
    )


def test_the_asset_trains_and_chooses_as_the_tested_nested_walk_forward(selected):
    """The models asset runs quant's training schedule: on the same rows, the pure nested_walk_forward
    (what tests/test_model_selection.py and benchmarks/bench_models.py run) makes the same choices and
    its chosen sets forecast what the asset's registered sets forecast."""
    from portfolio_dagster.assets.models import training_table
    from portfolio_dagster.quant import walk_forward
    from portfolio_dagster.quant.models.selection import candidates_from_config, nested_walk_forward
    from portfolio_dagster.quant.models.training import training_spec
    from portfolio_dagster.quant.targets import target_name

    warehouse, resources = selected
    cfg = resources["settings"].config
    h = cfg.targets.horizons[0]
    candidates = candidates_from_config(cfg.models)
    table = training_table(warehouse, resources["artifacts"], cfg, ["excess_return", "return"])
    calendar = pd.DatetimeIndex(table["date"].unique()).sort_values()
    schedule = walk_forward.retrain_dates(calendar, cfg.backtest.start, cfg.models.retrain_frequency)
    spec = training_spec(cfg.models, h, cfg.features.selected)
    pure, choices = nested_walk_forward(table, schedule, spec, candidates, target_name(h))
    reg = warehouse.query(
        "SELECT valid_from, candidate FROM model_registry WHERE model_type = 'ensemble' AND selected "
        "AND horizon = ? ORDER BY valid_from",
        [h],
    )
    assert len(choices) > 2
    assert {c.asof.date(): c.chosen for c in choices} == dict(
        zip(pd.to_datetime(reg["valid_from"]).dt.date, reg["candidate"], strict=True)
    )
    stored = warehouse.query(
        "SELECT ticker, date, prediction FROM forecasts WHERE model = 'ensemble' AND horizon = ?", [h]
    )
    stored["date"] = pd.to_datetime(stored["date"])
    both = stored.merge(pure[pure["model"] == "ensemble"], on=["ticker", "date"], suffixes=("", "_pure"))
    assert len(both) > 0.9 * len(stored)
    np.testing.assert_allclose(both["prediction"], both["prediction_pure"], rtol=1e-9, atol=1e-12)


def test_training_fans_out_in_parallel_and_matches_the_sequential_run(tmp_path, monkeypatch):
    """The models stage as pmx run launches it (retrain_job, multiprocess executor with a forkserver, 2
    workers, the project's instance with its `warehouse` pool): a training step per horizon, two at once
    in processes of their own, reading only the training snapshot; the registry (artifacts byte for byte)
    and the forecasts equal those of the same stage run sequentially in one process."""
    import shutil

    from portfolio_dagster.instance import get_instance
    from portfolio_dagster.pipeline_execution import execute

    sequential, parallel = tmp_path / "sequential", tmp_path / "parallel"
    sequential.mkdir()
    _, resources = _setup(sequential, enabled=["bayesian_ridge"])
    shutil.copytree(sequential, parallel)
    tags = {**RANGE_TAGS, "dagster/asset_partition_range_start": "2007-10-01"}
    assert dg.materialize([models], resources=resources).success
    assert dg.materialize([forecasts], resources=resources, tags=tags).success

    warehouse = Warehouse(path=str(parallel / "warehouse.duckdb"))
    for var, value in (("PMX_HOME", parallel), ("PMX_CONFIG", parallel / "config.yaml")):
        monkeypatch.setenv(var, str(value))
    monkeypatch.setenv("PMX_WAREHOUSE", warehouse.path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    instance = get_instance()
    result = execute("retrain_job", instance, asset_keys=[models.key])
    assert result.success, [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert not any((parallel / "model_inputs").iterdir())  # the snapshot is removed
    at_once, pids = most_steps_at_once(instance, result.run_id, "models.train_models")
    assert at_once == 2 and len(pids) == len(load_config().targets.horizons) and os.getpid() not in pids
    parallel_resources = resources | {
        "warehouse": warehouse,
        "artifacts": ArtifactStore(root=str(parallel)),
        "settings": PipelineSettings(config_path=str(parallel / "config.yaml")),
    }
    assert dg.materialize([forecasts], resources=parallel_resources, tags=tags).success

    def table(wh, name, key):
        frame = wh.query(f"SELECT * FROM {name}").drop(columns=["trained_at", "artifact"], errors="ignore")
        return frame.sort_values(key).reset_index(drop=True)

    reference = resources["warehouse"]
    registry = table(warehouse, "model_registry", ["model_id"])
    assert len(registry) and registry["horizon"].nunique() == len(load_config().targets.horizons)
    pd.testing.assert_frame_equal(registry, table(reference, "model_registry", ["model_id"]))
    key = ["ticker", "date", "horizon", "model"]
    pd.testing.assert_frame_equal(table(warehouse, "forecasts", key), table(reference, "forecasts", key))
