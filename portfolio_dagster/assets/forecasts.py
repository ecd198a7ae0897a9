"""forecasts: at the close of each date, every horizon's model valid then predicts each ticker."""


import dagster as dg
import pandas as pd

from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.models import MODEL_LINEAGE_SECTIONS, models
from portfolio_dagster.partitions import SINGLE_RUN, TRADING_DAYS, WAREHOUSE_POOL, window
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.features import FEATURE_NAMES
from portfolio_dagster.quant.models import ArtifactError, LightGBMForecaster
from portfolio_dagster.resources.artifacts import verified
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@dg.asset(partitions_def=TRADING_DAYS, backfill_policy=SINGLE_RUN, pool=WAREHOUSE_POOL,
          group_name="models", kinds={"duckdb", "lightgbm"}, deps=[features, models])
def forecasts(context: dg.AssetExecutionContext, settings: PipelineSettings,
              warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = window(context)
    config_hash = cfg.fingerprint(*MODEL_LINEAGE_SECTIONS)
    feats = warehouse.query("SELECT * FROM features WHERE date >= ? AND date < ? ORDER BY date, ticker",
                            [start, end])
    registry = warehouse.query(
        "SELECT model_id, horizon, valid_from, artifact, artifact_sha256 FROM model_registry "
        "WHERE config_hash = ? AND model_type = 'lightgbm' ORDER BY horizon, valid_from", [config_hash])
    out = []
    if not feats.empty and not registry.empty:
        feats["date"] = pd.to_datetime(feats["date"])
        registry["valid_from"] = pd.to_datetime(registry["valid_from"])
        for h, reg in registry.groupby("horizon"):
            reg = reg.reset_index(drop=True)
            which = walk_forward.model_for_date(reg["valid_from"], feats["date"])
            for i in sorted(set(which) - {-1}):
                rows = feats[which == i]
                try:
                    model = LightGBMForecaster.load(verified(reg.at[i, "artifact"], reg.at[i, "artifact_sha256"]))
                except ArtifactError as exc:
                    raise dg.Failure(str(exc)) from None
                pred, lower, upper = model.predict_interval(rows[list(FEATURE_NAMES)])
                base = pd.DataFrame({"ticker": rows["ticker"].to_numpy(), "date": rows["date"].to_numpy(),
                                     "horizon": int(h), "prediction": pred, "lower": lower, "upper": upper,
                                     "model_id": reg.at[i, "model_id"]})
                # The ensemble is LightGBM alone until more model families join it.
                out += [base.assign(model="lightgbm"), base.assign(model="ensemble")]
    table = pd.concat(out, ignore_index=True) if out else pd.DataFrame()
    warehouse.replace_range("forecasts", table, start, end)
    return dg.MaterializeResult(metadata={
        "rows": len(table), "dates_without_model": int(feats["date"].nunique() - table["date"].nunique())
        if len(table) else int(feats["date"].nunique()) if len(feats) else 0,
    })
