"""models: a model set per (retrain date, horizon): every enabled family plus the ensemble, trained
walk-forward with purge, embargo, a validation window (early stopping) and a later calibration window
(intervals, ensemble weights); registry lineage and feature importance."""

import datetime as dt
import json

import dagster as dg
import numpy as np
import pandas as pd

from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.regimes import regime_probabilities
from portfolio_dagster.assets.stage import MODELS, phase_tags
from portfolio_dagster.assets.targets import targets
from portfolio_dagster.partitions import WAREHOUSE_POOL
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.calendar import session_offset
from portfolio_dagster.quant.models import ENSEMBLE, ArtifactError, Ensemble, load_model
from portfolio_dagster.quant.models.selection import (
    TrainedPeriod,
    candidate_hash,
    candidate_spec,
    candidates_from_config,
    choice_record,
    train_schedule,
)
from portfolio_dagster.quant.models.training import ModelSet, model_feature_names, training_spec
from portfolio_dagster.quant.regimes import with_regime_columns
from portfolio_dagster.quant.targets import target_name
from portfolio_dagster.resources.alerts import DECAY_RETRAIN_FINISHED, raise_alert
from portfolio_dagster.resources.artifacts import ArtifactStore, sha256, verified
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.run_tags import DECAY, DRIFT, REASON_TAG, SCHEDULE, TRIGGER_TAG, VALID_FROM_TAG

MODEL_LINEAGE_SECTIONS = ("data", "features", "targets", "models")
ML_OFF_NOTE = "models.enabled is empty: ML is off; forecasts stay empty and signals use the rule-based path"


def model_input_columns(selected, prefix: str = "") -> str:
    """SQL select list of the features table's key and model-input columns (config features.selected):
    the table has every library feature (143), the models read only theirs."""
    return ", ".join(f'{prefix}"{c}"' for c in ("ticker", "date", *model_feature_names(selected)))


def model_id(model_type: str, horizon: int, valid_from: pd.Timestamp, config_hash: str) -> str:
    return f"{model_type}-h{horizon}-{valid_from:%Y%m%d}-{config_hash}"


def model_set_id(horizon: int, valid_from: pd.Timestamp, config_hash: str) -> str:
    return f"set-h{horizon}-{valid_from:%Y%m%d}-{config_hash}"


def _registry_rows(
    ms: ModelSet,
    artifacts: ArtifactStore,
    h: int,
    config_hash: str,
    trained_at,
    selection: dict,
    why: tuple[str, str],
) -> list[dict]:
    """selection: candidate, selection_hash, selected and the choice record (ensemble metrics); why:
    (trigger, reason) of the retrain."""
    asof, win = ms.split.asof, ms.split.window
    common = {
        "horizon": h,
        "train_start": win.start.date(),
        "train_end": win.end.date(),
        "valid_from": asof.date(),
        "trained_at": trained_at,
        "config_hash": config_hash,
        "features": json.dumps(ms.models[next(iter(ms.models))].feature_names),
        "model_set_id": model_set_id(h, asof, config_hash),
        "fit_end": ms.split.fit_end.date(),
        "validation_start": ms.split.validation_start.date(),
        "validation_end": ms.split.validation_end.date() if ms.split.validation_end is not None else None,
        "calibration_start": ms.split.calibration_start.date()
        if ms.split.calibration_start is not None
        else None,
        "candidate": selection["candidate"],
        "selection_hash": selection["selection_hash"],
        "selected": selection["selected"],
        "trigger": why[0],
        "reason": why[1],
    }
    rows = []
    for family, model in [*ms.models.items(), (ENSEMBLE, ms.ensemble)]:
        mid = model_id(family, h, asof, config_hash)
        path = model.save(artifacts.model_path(mid, ".json"))
        metrics = ms.metrics[family] | ({"selection": selection["record"]} if family == ENSEMBLE else {})
        rows.append(
            common
            | {
                "model_id": mid,
                "model_type": family,
                "metrics": json.dumps(metrics),
                "artifact": str(path),
                "artifact_sha256": sha256(path),
            }
        )
    return rows


def _period_registry(
    period: TrainedPeriod,
    artifacts: ArtifactStore,
    h: int,
    hashes: dict[str, str],
    selection_hash: str,
    trained_at,
    why: tuple[str, str],
) -> tuple[list[dict], list[pd.DataFrame]]:
    """The registry rows (artifacts saved) and feature importance of one period's new model sets."""
    rows, importance = [], []
    for name, ms in period.sets.items():
        selection = {
            "candidate": name,
            "selection_hash": selection_hash,
            "selected": name == period.choice.chosen,
            "record": choice_record(period.choice, name),
        }
        new = _registry_rows(ms, artifacts, h, hashes[name], trained_at, selection, why)
        rows += new
        by_type = {r["model_type"]: r["model_id"] for r in new}
        importance.append(
            ms.importance.assign(
                model_id=ms.importance["family"].map(by_type), horizon=h, valid_from=period.asof.date()
            ).rename(columns={"family": "model_type"})
        )
    return rows, importance


def load_registered(row) -> object:
    """A registry row's model (or ensemble), its artifact verified against the recorded sha256."""
    path = verified(row.artifact, row.artifact_sha256)
    return Ensemble.load(path) if row.model_type == ENSEMBLE else load_model(path)


def predict_registered_set(reg: pd.DataFrame, ctx: pd.DataFrame, keep, horizon: int) -> list[pd.DataFrame]:
    """Predictions of one model set (its registry rows) for the rows of ctx where keep is True."""
    loaded = {r.model_type: (r.model_id, load_registered(r)) for r in reg.itertuples()}
    ensemble_id, ensemble = loaded.pop(ENSEMBLE)
    out, points = [], {}
    base = pd.DataFrame(
        {"ticker": ctx["ticker"].to_numpy()[keep], "date": ctx["date"].to_numpy()[keep], "horizon": horizon}
    )
    for family, (mid, model) in sorted(loaded.items()):
        pred, lower, upper = model.predict_interval(ctx)
        points[family] = pred[keep]
        out.append(
            base.assign(
                model=family, prediction=pred[keep], lower=lower[keep], upper=upper[keep], model_id=mid
            )
        )
    pred, lower, upper = ensemble.interval(points)
    out.append(base.assign(model=ENSEMBLE, prediction=pred, lower=lower, upper=upper, model_id=ensemble_id))
    return out


@dg.asset(
    tags=phase_tags(MODELS),
    pool=WAREHOUSE_POOL,
    group_name="models",
    kinds={"duckdb", "lightgbm", "xgboost", "pytorch", "sklearn"},
    deps=[features, targets],
    description="A model set per (retrain date, horizon) and configuration candidate: the enabled families "
    "(lightgbm, xgboost, tcn, lstm, bayesian_ridge, regime_adaptive) and their calibration-skill-"
    "weighted ensemble; with models.candidates, the nested walk-forward choice per retrain date "
    "(registry `selected`). Incremental: trains only the sets missing from model_registry.",
)
def models(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    artifacts: ArtifactStore,
) -> dg.MaterializeResult:
    cfg = settings.config
    config_hash = cfg.fingerprint(*MODEL_LINEAGE_SECTIONS)
    if not cfg.models.enabled:
        context.log.info(ML_OFF_NOTE)
        return dg.MaterializeResult(metadata={"trained": 0, "enabled": "none", "note": ML_OFF_NOTE})
    candidates = candidates_from_config(cfg.models)
    hashes = {c.name: candidate_hash(config_hash, c) for c in candidates}
    table = training_table(
        warehouse, artifacts, cfg, sorted({"return", *(c.target_kind for c in candidates)})
    )
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
    existing = set(registered.get("model_set_id", []))
    trained_at = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    rows, importance, skipped = [], [], 0
    for h in cfg.targets.horizons:
        specs = {
            c.name: candidate_spec(training_spec(cfg.models, h, cfg.features.selected), c) for c in candidates
        }
        ids = {asof: {c.name: model_set_id(h, asof, hashes[c.name]) for c in candidates} for asof in schedule}
        periods = train_schedule(
            table,
            calendar,
            schedule,
            specs,
            target_name(h),
            needed=lambda name, asof, ids=ids: ids[asof][name] not in existing,
            stored_prediction=_stored_prediction(registered, ids, h),
        )
        for period in periods:
            if period is None:
                skipped += 1
                continue
            why = (
                (trigger, reason)
                if period.asof == requested
                else (SCHEDULE, f"retrain calendar ({cfg.models.retrain_frequency})")
            )
            new, imp = _period_registry(period, artifacts, h, hashes, config_hash, trained_at, why)
            rows += new
            importance += imp
    warehouse.replace_where("model_registry", pd.DataFrame(rows), "model_id", [r["model_id"] for r in rows])
    if requested is not None:
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
    imp = pd.concat(importance, ignore_index=True) if importance else pd.DataFrame()
    warehouse.replace_where("feature_importance", imp, "model_id", sorted(set(imp.get("model_id", []))))
    return dg.MaterializeResult(
        metadata={
            "trained": len(rows),
            "model_sets_already_trained": len(existing),
            "skipped_short_history": skipped,
            "candidates": ", ".join(f"{c.name} ({hashes[c.name]})" for c in candidates),
            "retrain_dates": len(schedule),
            "enabled": ", ".join(cfg.models.enabled),
            "config_hash": config_hash,
            "features": dg.MetadataValue.json(list(model_feature_names(cfg.features.selected))),
            "latest_valid_from": str(schedule.max().date()) if len(schedule) else "none",
            "ensemble_weights_latest": dg.MetadataValue.json(_latest_weights(rows)),
            "feature_importance": dg.MetadataValue.md(_importance_markdown(imp)),
        }
    )


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


def _stored_prediction(registered: pd.DataFrame, ids: dict, horizon: int):
    """train_schedule's `stored_prediction`: a registered set's ensemble forecast of a period's rows."""

    def predict(name: str, asof: pd.Timestamp, ctx: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
        try:
            frames = predict_registered_set(
                registered[registered["model_set_id"] == ids[asof][name]], ctx, keep, horizon
            )
        except ArtifactError as exc:
            raise dg.Failure(str(exc)) from None
        point = np.zeros(len(ctx))
        point[keep] = frames[-1]["prediction"].to_numpy()
        return point

    return predict


def requested_retrain(tags: dict, calendar: pd.DatetimeIndex) -> tuple[str, str, pd.Timestamp | None]:
    """(trigger, reason, valid_from) of a sensor-requested retrain run; (schedule, "", None) otherwise.
    valid_from: the run's tag, else the session after the newest trained-on date."""
    trigger = tags.get(TRIGGER_TAG)
    if trigger not in (DECAY, DRIFT):
        return SCHEDULE, "", None
    valid = tags.get(VALID_FROM_TAG)
    valid_from = pd.Timestamp(valid) if valid else pd.Timestamp(session_offset(calendar.max().date(), 1))
    return trigger, tags.get(REASON_TAG, trigger), valid_from


def _latest_weights(rows: list[dict]) -> dict:
    ens = [r for r in rows if r["model_type"] == ENSEMBLE]
    if not ens:
        return {}
    latest = max(r["valid_from"] for r in ens)
    return {
        f"h{r['horizon']}": json.loads(r["metrics"]).get("weights", {})
        for r in ens
        if r["valid_from"] == latest
    }


def _importance_markdown(imp: pd.DataFrame) -> str:
    """Permutation importance (validation MSE rise, x1e6) of the newest model sets, per family and feature."""
    if imp.empty:
        return "no new models"
    latest = imp[imp["valid_from"] == imp["valid_from"].max()]
    table = latest.groupby(["feature", "model_type"])["permutation"].mean().unstack() * 1e6
    return (
        f"Permutation importance, models valid from {latest['valid_from'].max()} (mean over horizons, "
        f"validation MSE rise x 1e6):\n\n" + table.round(3).to_markdown()
    )
