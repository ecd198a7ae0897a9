"""models: walk-forward LightGBM per horizon, retrained on the configured schedule with purge and embargo."""


import json

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.targets import targets
from portfolio_dagster.partitions import WAREHOUSE_POOL
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.features import FEATURE_NAMES
from portfolio_dagster.quant.models import LightGBMForecaster
from portfolio_dagster.quant.targets import target_name
from portfolio_dagster.resources.artifacts import ArtifactStore, sha256
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

MODEL_LINEAGE_SECTIONS = ("data", "features", "targets", "models")


def model_id(model_type: str, horizon: int, valid_from: pd.Timestamp, config_hash: str) -> str:
    return f"{model_type}-h{horizon}-{valid_from:%Y%m%d}-{config_hash}"


@dg.asset(pool=WAREHOUSE_POOL, group_name="models", kinds={"duckdb", "lightgbm"}, deps=[features, targets],
          description="One model per (retrain date, horizon). Incremental: trains only the retrain dates "
                      "missing from model_registry for this config.")
def models(context: dg.AssetExecutionContext, settings: PipelineSettings, warehouse: Warehouse,
           artifacts: ArtifactStore) -> dg.MaterializeResult:
    cfg = settings.config
    config_hash = cfg.fingerprint(*MODEL_LINEAGE_SECTIONS)
    table = warehouse.query(
        "SELECT f.*, " + ", ".join(f"t.{target_name(h)}" for h in cfg.targets.horizons) +
        " FROM features f JOIN targets t USING (ticker, date) ORDER BY date, ticker")
    if table.empty:
        raise dg.Failure("no features joined with targets: materialize prices, features and targets first")
    table["date"] = pd.to_datetime(table["date"])
    calendar = pd.DatetimeIndex(table["date"].unique()).sort_values()
    schedule = walk_forward.retrain_dates(calendar, cfg.backtest.start, cfg.models.retrain_frequency)
    existing = set(warehouse.query("SELECT model_id FROM model_registry WHERE config_hash = ?",
                                   [config_hash]).get("model_id", []))
    rolling = cfg.models.rolling_days if cfg.models.window == "rolling" else None
    rows = []
    for asof in schedule:
        for h in cfg.targets.horizons:
            mid = model_id("lightgbm", h, asof, config_hash)
            if mid in existing:
                continue
            win = walk_forward.training_window(calendar, asof, h, cfg.models.embargo_days, rolling)
            train = walk_forward.select(table, win).dropna(subset=[target_name(h)])
            if train["date"].nunique() < cfg.models.min_train_days:
                context.log.info(f"{mid}: {train['date'].nunique()} training days < min_train_days, skipped")
                continue
            model = LightGBMForecaster(cfg.models.lightgbm.model_dump(), seed=cfg.models.seed,
                                       threads=cfg.models.threads)
            model.fit(train[list(FEATURE_NAMES)], train[target_name(h)].to_numpy(), train["date"])
            path = artifacts.model_path(mid, ".txt")
            model.save(path)
            rows.append({
                "model_id": mid, "model_type": "lightgbm", "horizon": h,
                "train_start": win.start.date(), "train_end": win.end.date(), "valid_from": asof.date(),
                "trained_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"),
                "config_hash": config_hash, "features": json.dumps(list(FEATURE_NAMES)),
                "metrics": json.dumps(model.metrics), "artifact": str(path), "artifact_sha256": sha256(path),
            })
    new = pd.DataFrame(rows)
    warehouse.replace_where("model_registry", new, "model_id", [r["model_id"] for r in rows])
    return dg.MaterializeResult(metadata={
        "trained": len(rows), "already_trained": len(existing), "retrain_dates": len(schedule),
        "config_hash": config_hash,
        "latest_valid_from": str(schedule.max().date()) if len(schedule) else "none",
    })
