"""regimes: the market regime known at each close, from the equal-weight market's volatility."""


import dagster as dg

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.partitions import SINGLE_RUN, TRADING_DAYS, WAREHOUSE_POOL, trading_days_before, window
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.regimes import volatility_regimes
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

# The expanding median needs history: read this many trading days before the window.
REGIME_LOOKBACK_DAYS = 2520


@dg.asset(partitions_def=TRADING_DAYS, backfill_policy=SINGLE_RUN, pool=WAREHOUSE_POOL,
          group_name="strategy", kinds={"duckdb", "pandas"}, deps=[prices])
def regimes(context: dg.AssetExecutionContext, settings: PipelineSettings,
            warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = window(context)
    history = warehouse.universe_prices(trading_days_before(start, REGIME_LOOKBACK_DAYS), end, cfg,
                                        columns="ticker, date, close")
    table = volatility_regimes(wide(history, "close").pct_change(fill_method=None).mean(axis=1)) \
        if len(history) else history
    if len(table):
        table = table[(table["date"].dt.date >= start) & (table["date"].dt.date < end)]
    warehouse.replace_range("regimes", table, start, end)
    return dg.MaterializeResult(metadata={
        "rows": len(table),
        "states": dg.MetadataValue.json(table["state"].value_counts().to_dict() if len(table) else {}),
    })
