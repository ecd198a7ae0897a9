"""The steps of the models stage (assets/models.py), each a Dagster op the executor may run in its own
process or pod:

- `model_inputs` (pool `warehouse`): reads the warehouse once (features joined with targets, regime
  columns, the model sets already registered) and writes a training snapshot (resources/
  training_snapshot.py); one dynamic output per horizon.
- `train_models[h<h>]` (no pool: it never opens the warehouse): one horizon's training schedule
  (quant's `train_schedule`, the nested walk-forward choice among candidates in retrain order) from the
  snapshot's files; artifacts into the model store, registry rows and importance into the snapshot.
- `register_models` (pool `warehouse`): every horizon's rows into model_registry and feature_importance,
  the decay retrain's alert, the stage's metadata; removes the snapshot.

The horizons are independent (each its own targets, sets and choices), so they train at once; within a
horizon the choice at a retrain date reads the earlier periods' forecasts, so a horizon is one step.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.model_registry import (
    ML_OFF_NOTE,
    MODEL_LINEAGE_SECTIONS,
    importance_markdown,
    latest_weights,
    model_input_columns,
    model_set_id,
    period_registry,
    stored_prediction,
)
from portfolio_dagster.assets.regimes import regime_probabilities
from portfolio_dagster.partitions import WAREHOUSE_POOL
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.calendar import session_offset
from portfolio_dagster.quant.models.selection import (
    candidate_hash,
    candidate_spec,
    candidates_from_config,
    train_schedule,
)
from portfolio_dagster.quant.models.training import model_feature_names, training_spec
from portfolio_dagster.quant.regimes import with_regime_columns
from portfolio_dagster.quant.targets import target_name
from portfolio_dagster.resources.alerts import DECAY_RETRAIN_FINISHED, raise_alert
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.training_snapshot import TrainingSnapshot, remove_stale
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.run_tags import DECAY, DRIFT, REASON_TAG, SCHEDULE, TRIGGER_TAG, VALID_FROM_TAG

HORIZON_KEY_PREFIX = "h"


def training_table(warehouse: Warehouse, artifacts: ArtifactStore, cfg, kinds: list[str]) -> pd.DataFrame:
    """Features joined with the targets of `kinds` for every horizon (and the regime columns when the
    regime-adaptive family is enabled), by date and ticker."""
    table = warehouse.query(
        f"SELECT {model_input_columns(cfg.features.selected, 'f.')}, "
        + ", ".join(f"t.{target_name(h, k)}" for h in cfg.targets.horizons for k in kinds)
        + " FROM features f JOIN targets t USING (ticker, date) ORDER BY date, ticker"
    )
    if table.empty:
        raise dg.Failure("no features joined with targets: materialize prices, features and targets first")
    table["date"] = pd.to_datetime(table["date"])
    if "regime_adaptive" in cfg.models.enabled:
        end = table["date"].max().date() + dt.timedelta(days=1)
        table = with_regime_columns(table, regime_probabilities(warehouse, artifacts, cfg, None, end))
    return table


def requested_retrain(tags: dict, calendar: pd.DatetimeIndex) -> tuple[str, str, pd.Timestamp | None]:
    """(trigger, reason, valid_from) of a sensor-requested retrain run; (schedule, "", None) otherwise.
    valid_from: the run's tag, else the session after the newest trained-on date."""
    trigger = tags.get(TRIGGER_TAG)
    if trigger not in (DECAY, DRIFT):
        return SCHEDULE, "", None
    valid = tags.get(VALID_FROM_TAG)
    valid_from = pd.Timestamp(valid) if valid else pd.Timestamp(session_offset(calendar.max().date(), 1))
    return trigger, tags.get(REASON_TAG, trigger), valid_from


def _snapshot(context: dg.OpExecutionContext, artifacts: ArtifactStore) -> TrainingSnapshot:
    # A re-execution of a failed run reuses the inputs its root run wrote (its steps that succeeded are
    # not run again).
    return TrainingSnapshot.of_run(artifacts.root, context.run.root_run_id or context.run.run_id)


def _finished(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is None or run.is_finished


@dg.op(
    ins={"features": dg.In(dg.Nothing), "targets": dg.In(dg.Nothing)},
    out={"horizons": dg.DynamicOut(dg.Nothing), "plan": dg.Out(dg.Nothing)},
    pool=WAREHOUSE_POOL,
    description="Reads the training rows and the registered model sets once; writes the run's training "
    "snapshot (Parquet) and fans out one training step per horizon.",
)
def model_inputs(
    context: dg.OpExecutionContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    artifacts: ArtifactStore,
):
    cfg = settings.config
    snapshot = _snapshot(context, artifacts)
    remove_stale(artifacts.root, snapshot.folder.name, lambda key: _finished(context.instance, key))
    config_hash = cfg.fingerprint(*MODEL_LINEAGE_SECTIONS)
    plan = {"enabled": list(cfg.models.enabled), "config_hash": config_hash, "horizons": []}
    if not cfg.models.enabled:
        context.log.info(ML_OFF_NOTE)
        snapshot.write_inputs(pd.DataFrame(), pd.DataFrame(), plan)
        yield dg.Output(None, output_name="plan")
        return
    candidates = candidates_from_config(cfg.models)
    hashes = {c.name: candidate_hash(config_hash, c) for c in candidates}
    kinds = sorted({"return", *(c.target_kind for c in candidates)})
    table = training_table(warehouse, artifacts, cfg, kinds)
    calendar = pd.DatetimeIndex(table["date"].unique()).sort_values()
    schedule = walk_forward.retrain_dates(calendar, cfg.backtest.start, cfg.models.retrain_frequency)
    trigger, reason, requested = requested_retrain(context.run.tags, calendar)
    if requested is not None:
        # A sensor's retrain: a set valid from the session after its evidence, off the calendar.
        schedule = schedule.union(pd.DatetimeIndex([requested]))
    registered = warehouse.query(
        "SELECT model_id, model_type, model_set_id, artifact, artifact_sha256 FROM model_registry "
        "WHERE config_hash IN (SELECT unnest(?))",
        [sorted(set(hashes.values()))],
    )
    plan |= {
        "horizons": list(cfg.targets.horizons),
        "hashes": hashes,
        "kinds": kinds,
        "schedule": [d.isoformat() for d in schedule],
        "requested": requested.isoformat() if requested is not None else None,
        "trigger": trigger,
        "reason": reason,
        "trained_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s").isoformat(),
        "already_trained": len(set(registered.get("model_set_id", []))),
    }
    snapshot.write_inputs(table, registered, plan)
    for h in cfg.targets.horizons:
        yield dg.DynamicOutput(None, mapping_key=f"{HORIZON_KEY_PREFIX}{h}", output_name="horizons")
    yield dg.Output(None, output_name="plan", metadata={"rows": len(table), "snapshot": str(snapshot.folder)})


@dg.op(
    ins={"start": dg.In(dg.Nothing)},
    out=dg.Out(dg.Nothing),
    description="One horizon's model sets (every retrain date, every candidate, the nested choice) "
    "from the training snapshot; never opens the warehouse.",
)
def train_models(context: dg.OpExecutionContext, settings: PipelineSettings, artifacts: ArtifactStore):
    h = int(context.get_mapping_key().removeprefix(HORIZON_KEY_PREFIX))
    cfg = settings.config
    snapshot = _snapshot(context, artifacts)
    plan = snapshot.plan()
    if cfg.fingerprint(*MODEL_LINEAGE_SECTIONS) != plan["config_hash"]:
        raise dg.Failure("the configuration changed while the models stage ran: run it again")
    candidates = candidates_from_config(cfg.models)
    hashes = plan["hashes"]
    others = {target_name(o, k) for o in plan["horizons"] if o != h for k in plan["kinds"]}
    table = snapshot.rows(drop=others)
    calendar = pd.DatetimeIndex(table["date"].unique()).sort_values()
    schedule = pd.DatetimeIndex(pd.to_datetime(plan["schedule"]))
    requested = pd.Timestamp(plan["requested"]) if plan["requested"] else None
    registered = snapshot.registered()
    existing = set(registered.get("model_set_id", []))
    trained_at = pd.Timestamp(plan["trained_at"])
    specs = {
        c.name: candidate_spec(training_spec(cfg.models, h, cfg.features.selected), c) for c in candidates
    }
    ids = {asof: {c.name: model_set_id(h, asof, hashes[c.name]) for c in candidates} for asof in schedule}
    rows, importance, skipped = [], [], 0
    for period in train_schedule(
        table,
        calendar,
        schedule,
        specs,
        target_name(h),
        needed=lambda name, asof: ids[asof][name] not in existing,
        stored_prediction=stored_prediction(registered, ids, h),
    ):
        if period is None:
            skipped += 1
            continue
        why = (
            (plan["trigger"], plan["reason"])
            if period.asof == requested
            else (SCHEDULE, f"retrain calendar ({cfg.models.retrain_frequency})")
        )
        new, imp = period_registry(period, artifacts, h, hashes, plan["config_hash"], trained_at, why)
        rows += new
        importance += imp
    imp = pd.concat(importance, ignore_index=True) if importance else pd.DataFrame()
    snapshot.write_result(h, pd.DataFrame(rows), imp, {"skipped_short_history": skipped})
    return dg.Output(None, metadata={"horizon": h, "trained": len(rows), "skipped_short_history": skipped})


@dg.op(
    ins={"trained": dg.In(dg.Nothing), "plan": dg.In(dg.Nothing)},
    out=dg.Out(dg.Nothing),
    pool=WAREHOUSE_POOL,
    description="Writes every horizon's new registry rows and feature importance (one transaction each).",
)
def register_models(
    context: dg.OpExecutionContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    artifacts: ArtifactStore,
):
    cfg = settings.config
    snapshot = _snapshot(context, artifacts)
    plan = snapshot.plan()
    if not plan["enabled"]:
        snapshot.remove()
        return dg.Output(None, metadata={"trained": 0, "enabled": "none", "note": ML_OFF_NOTE})
    results = [snapshot.result(h) for h in plan["horizons"]]
    registry = [r for r, _, _ in results if len(r)]
    registry = pd.concat(registry, ignore_index=True) if registry else pd.DataFrame()
    rows = registry.to_dict("records")
    warehouse.replace_where("model_registry", registry, "model_id", [r["model_id"] for r in rows])
    requested = pd.Timestamp(plan["requested"]) if plan["requested"] else None
    if requested is not None:
        trigger = plan["trigger"]
        served = sorted({r["model_set_id"] for r in rows if r["valid_from"] == requested.date()})
        raise_alert(
            warehouse,
            cfg,
            DECAY_RETRAIN_FINISHED,
            f"{trigger} retrain finished: {len(served)} model set(s) valid from {requested.date()}"
            + ("" if served else " (none trained: not enough history, or already registered)"),
            run_id=context.run.run_id,
            log=context.log,
            details={"trigger": trigger, "valid_from": str(requested.date()), "model_sets": len(served)},
        )
    imp = [i for _, i, _ in results if len(i)]
    imp = pd.concat(imp, ignore_index=True) if imp else pd.DataFrame()
    warehouse.replace_where("feature_importance", imp, "model_id", sorted(set(imp.get("model_id", []))))
    snapshot.remove()
    schedule = plan["schedule"]
    return dg.Output(
        None,
        metadata={
            "trained": len(rows),
            "model_sets_already_trained": plan["already_trained"],
            "skipped_short_history": sum(info["skipped_short_history"] for _, _, info in results),
            "training_steps": len(plan["horizons"]),
            "candidates": ", ".join(
                f"{c.name} ({plan['hashes'][c.name]})" for c in candidates_from_config(cfg.models)
            ),
            "retrain_dates": len(schedule),
            "enabled": ", ".join(cfg.models.enabled),
            "config_hash": plan["config_hash"],
            "features": dg.MetadataValue.json(list(model_feature_names(cfg.features.selected))),
            "latest_valid_from": max(schedule)[:10] if schedule else "none",
            "ensemble_weights_latest": dg.MetadataValue.json(latest_weights(rows)),
            "feature_importance": dg.MetadataValue.md(importance_markdown(imp)),
        },
    )
