"""prices: the sources merged by priority and validated; failures go to rejected_prices."""

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS
from portfolio_dagster.assets.stage import MARKET, StageContext, daily_stage
from portfolio_dagster.quant.validation import consolidate, validate
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

OUTSIDE_UNIVERSE = "ticker not in the configured universe"


@daily_stage(
    phase=MARKET,
    group_name="market_data",
    kinds={"duckdb", "pandas"},
    deps=list(RAW_PRICE_ASSETS.values()),
    description="Validated prices, one row per (ticker, date) from the first source in data.sources "
    "that has a valid row (a day missing in one source is filled from the next).",
)
def prices(context: StageContext, settings: PipelineSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = context.window
    clean, rejected = [], []
    raw_rows = {}
    allowed = None
    if cfg.data.tickers is not None:
        allowed = {*cfg.data.tickers, cfg.data.benchmark, *cfg.strategy.safe_assets}
    for source in cfg.data.sources:
        # delivered_ticker exists in the live sources' tables only.
        extra = ", delivered_ticker" if source not in ("sample", "csv") else ""
        raw = warehouse.query(
            f"SELECT ticker, date, open, high, low, close, volume{extra} FROM raw_prices_{source} "
            "WHERE date >= ? AND date < ? ORDER BY ticker, date",
            [start, end],
        )
        raw_rows[source] = len(raw)
        if raw.empty:
            continue
        ok, bad = validate(raw, source)
        if allowed is not None:
            outside = ~ok["ticker"].isin(allowed)
            bad = pd.concat([bad, ok[outside].assign(reason=OUTSIDE_UNIVERSE)], ignore_index=True)
            ok = ok[~outside]
        clean.append(ok)
        rejected.append(bad)
    merged = consolidate(clean)
    rejected_all = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame()
    total_raw = sum(raw_rows.values())
    clean_rows = sum(len(c) for c in clean)
    merged_away = clean_rows - len(merged)
    # Reconciliation: every raw row is a price, a rejected row, or a duplicate of a higher-priority source.
    if total_raw != len(merged) + len(rejected_all) + merged_away:
        raise dg.Failure(
            f"prices do not reconcile: raw {total_raw} != clean {len(merged)} + rejected "
            f"{len(rejected_all)} + merged {merged_away}"
        )
    warehouse.replace_range("prices", merged, start, end)
    warehouse.replace_range("rejected_prices", rejected_all, start, end)
    reasons = rejected_all["reason"].value_counts().to_dict() if len(rejected_all) else {}
    by_source = merged["source"].value_counts().to_dict() if len(merged) else {}
    return dg.MaterializeResult(
        metadata={
            "rows": len(merged),
            "raw_rows": total_raw,
            "rejected_rows": len(rejected_all),
            "merged_away": merged_away,
            "reconciles": True,
            "raw_rows_by_source": dg.MetadataValue.json(raw_rows),
            "rows_by_source": dg.MetadataValue.json({k: int(v) for k, v in by_source.items()}),
            "rejected_by_reason": dg.MetadataValue.json({k: int(v) for k, v in reasons.items()}),
            "tickers": int(merged["ticker"].nunique()) if len(merged) else 0,
            "newest": str(merged["date"].max().date()) if len(merged) else "none",
        }
    )
