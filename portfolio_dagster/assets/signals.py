"""signals: expected return, confidence and Kelly-style size from the ensemble forecasts."""


import dagster as dg
import pandas as pd

from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.regimes import regimes
from portfolio_dagster.partitions import SINGLE_RUN, TRADING_DAYS, WAREHOUSE_POOL, window
from portfolio_dagster.quant.signals import from_forecasts
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@dg.asset(partitions_def=TRADING_DAYS, backfill_policy=SINGLE_RUN, pool=WAREHOUSE_POOL,
          group_name="strategy", kinds={"duckdb", "pandas"}, deps=[forecasts, regimes])
def signals(context: dg.AssetExecutionContext, settings: PipelineSettings,
            warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = window(context)
    ensemble = warehouse.query(
        "SELECT ticker, date, prediction, lower, upper FROM forecasts "
        "WHERE model = 'ensemble' AND horizon = ? AND date >= ? AND date < ? ORDER BY date, ticker",
        [cfg.strategy.signal_horizon, start, end])
    table = from_forecasts(ensemble) if len(ensemble) else pd.DataFrame()
    warehouse.replace_range("signals", table, start, end)
    return dg.MaterializeResult(metadata={"rows": len(table)})
