"""allocations: target weights at each close; the risky sleeve from signals, the rest safe."""


import dagster as dg

from portfolio_dagster.assets.signals import signals
from portfolio_dagster.partitions import SINGLE_RUN, TRADING_DAYS, WAREHOUSE_POOL, window
from portfolio_dagster.quant.allocation import allocate
from portfolio_dagster.quant.report import markdown_table
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@dg.asset(partitions_def=TRADING_DAYS, backfill_policy=SINGLE_RUN, pool=WAREHOUSE_POOL,
          group_name="strategy", kinds={"duckdb", "pandas"}, deps=[signals])
def allocations(context: dg.AssetExecutionContext, settings: PipelineSettings,
                warehouse: Warehouse) -> dg.MaterializeResult:
    s = settings.config.strategy
    start, end = window(context)
    sig = warehouse.query("SELECT * FROM signals WHERE date >= ? AND date < ? ORDER BY date, ticker",
                          [start, end])
    table = allocate(sig, max_position=s.max_position, min_confidence=s.min_confidence,
                     risky_share=s.risky_share, top_k=s.top_k, safe_asset=s.safe_assets[0])
    warehouse.replace_range("allocations", table, start, end)
    latest = table[table["date"] == table["date"].max()] if len(table) else table
    return dg.MaterializeResult(metadata={
        "rows": len(table), "dates": int(table["date"].nunique()) if len(table) else 0,
        "latest": dg.MetadataValue.md(markdown_table(latest) if len(latest) else "none"),
    })
