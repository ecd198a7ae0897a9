"""prices: the sources merged by priority and validated; failures go to rejected_prices."""


import dagster as dg
import pandas as pd

from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS
from portfolio_dagster.partitions import SINGLE_RUN, TRADING_DAYS, WAREHOUSE_POOL, window
from portfolio_dagster.quant.validation import consolidate, validate
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@dg.asset(partitions_def=TRADING_DAYS, backfill_policy=SINGLE_RUN, pool=WAREHOUSE_POOL,
          group_name="market_data", kinds={"duckdb", "pandas"}, deps=list(RAW_PRICE_ASSETS.values()))
def prices(context: dg.AssetExecutionContext, settings: PipelineSettings,
           warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config.data
    start, end = window(context)
    clean, rejected = [], []
    raw_rows = 0
    for source in cfg.sources:
        raw = warehouse.query(
            f"SELECT ticker, date, open, high, low, close, volume FROM raw_prices_{source} "
            "WHERE date >= ? AND date < ? ORDER BY ticker, date", [start, end])
        raw_rows += len(raw)
        ok, bad = validate(raw, source)
        if cfg.tickers is not None:
            outside = ~ok["ticker"].isin({*cfg.tickers, cfg.benchmark})
            bad = pd.concat([bad, ok[outside].assign(reason="ticker not in the configured universe")])
            ok = ok[~outside]
        clean.append(ok)
        rejected.append(bad)
    merged = consolidate(clean)
    rejected_all = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame()
    warehouse.replace_range("prices", merged, start, end)
    warehouse.replace_range("rejected_prices", rejected_all, start, end)
    reasons = rejected_all["reason"].value_counts().to_dict() if len(rejected_all) else {}
    return dg.MaterializeResult(metadata={
        "rows": len(merged), "raw_rows": raw_rows, "rejected_rows": len(rejected_all),
        # Raw rows = clean + rejected + rows superseded by a higher-priority source.
        "merged_away": raw_rows - len(merged) - len(rejected_all),
        "rejected_by_reason": dg.MetadataValue.json(reasons),
        "tickers": int(merged["ticker"].nunique()) if len(merged) else 0,
        "newest": str(merged["date"].max().date()) if len(merged) else "none",
    })
