"""The model registry's rows: ids, artifacts and lineage of a trained model set, loading and predicting
registered sets (verified against their sha256), and the models stage's report metadata."""

import json

import dagster as dg
import numpy as np
import pandas as pd

from portfolio_dagster.quant.models import ENSEMBLE, ArtifactError, Ensemble, load_model
from portfolio_dagster.quant.models.selection import TrainedPeriod, choice_record
from portfolio_dagster.quant.models.training import ModelSet, model_feature_names
from portfolio_dagster.resources.artifacts import ArtifactStore, sha256, verified

MODEL_LINEAGE_SECTIONS = ("data", "features", "targets", "models")
ML_OFF_NOTE = "models.enabled is empty: ML is off; forecasts stay empty and signals use the rule-based path"


def model_input_columns(selected, prefix: str = "") -> str:
    """SQL select list of the features table's key and model-input columns (config features.selected):
    the table has every library feature (143), the models read only theirs."""
    return ", ".join(f'{prefix}"{c}"' for c in ("ticker", "date", *model_feature_names(selected)))


def model_id(model_type: str, horizon: int, valid_from: pd.Timestamp, config_hash: str) -> str:
    """The registry id of one family's (or the ensemble's) model of a set."""
    return f"{model_type}-h{horizon}-{valid_from:%Y%m%d}-{config_hash}"


def model_set_id(horizon: int, valid_from: pd.Timestamp, config_hash: str) -> str:
    """The id of a model set: one horizon, one retrain date, one configuration (hash)."""
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


def period_registry(
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


def stored_prediction(registered: pd.DataFrame, ids: dict, horizon: int):
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


def latest_weights(rows: list[dict]) -> dict:
    """The ensemble weights of the newest sets among `rows` (registry rows), per horizon."""
    ens = [r for r in rows if r["model_type"] == ENSEMBLE]
    if not ens:
        return {}
    latest = max(r["valid_from"] for r in ens)
    return {
        f"h{r['horizon']}": json.loads(r["metrics"]).get("weights", {})
        for r in ens
        if r["valid_from"] == latest
    }


def importance_markdown(imp: pd.DataFrame) -> str:
    """Permutation importance (validation MSE rise, x1e6) of the newest model sets, per family and feature."""
    if imp.empty:
        return "no new models"
    latest = imp[imp["valid_from"] == imp["valid_from"].max()]
    table = latest.groupby(["feature", "model_type"])["permutation"].mean().unstack() * 1e6
    return (
        f"Permutation importance, models valid from {latest['valid_from'].max()} (mean over horizons, "
        f"validation MSE rise x 1e6):\n\n" + table.round(3).to_markdown()
    )
