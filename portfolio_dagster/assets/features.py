"""features: point-in-time features per (ticker, date) of the tradable universe."""


import dagster as dg

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.partitions import SINGLE_RUN, TRADING_DAYS, WAREHOUSE_POOL, trading_days_before, window
from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@dg.asset(partitions_def=TRADING_DAYS, backfill_policy=SINGLE_RUN, pool=WAREHOUSE_POOL,
          group_name="features", kinds={"duckdb", "pandas"}, deps=[prices])
def features(context: dg.AssetExecutionContext, settings: PipelineSettings,
             warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = window(context)
    history = warehouse.universe_prices(
        trading_days_before(start, cfg.features.lookback_days), end, cfg)
    table = feature_set.compute(history)
    table = table[(table["date"].dt.date >= start) & (table["date"].dt.date < end)]
    warehouse.replace_range("features", table, start, end)
    nan_share = table[list(feature_set.FEATURE_NAMES)].isna().mean().round(4).to_dict() if len(table) else {}
    return dg.MaterializeResult(metadata={
        "rows": len(table), "features": len(feature_set.FEATURE_NAMES),
        "nan_share": dg.MetadataValue.json(nan_share),
        "newest": str(table["date"].max().date()) if len(table) else "none",
    })
