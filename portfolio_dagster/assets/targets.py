"""targets: forward returns per horizon; NULL until the horizon has been realized."""

import datetime as dt

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.assets.stage import MARKET, StageContext, daily_stage
from portfolio_dagster.partitions import trading_days_before
from portfolio_dagster.quant import targets as target_set
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@daily_stage(
    phase=MARKET,
    group_name="features",
    kinds={"duckdb", "pandas"},
    deps=[prices],
    description="Per horizon: forward return, risk-adjusted return (over trailing return vol scaled to "
    "the horizon), significant-move and direction labels. A run also refreshes the preceding "
    "max-horizon trading days, whose targets the window's prices complete.",
)
def targets(context: StageContext, settings: PipelineSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = context.window
    longest = max(cfg.targets.horizons)
    refresh_start = trading_days_before(start, longest)
    future_end = end + dt.timedelta(days=int(longest * 7 / 5) + 14)
    # The trailing volatility at refresh_start needs VOL_WINDOW daily returns before it.
    history = warehouse.universe_prices(
        trading_days_before(refresh_start, target_set.VOL_WINDOW + 1), future_end, cfg
    )
    table = target_set.compute(history, cfg.targets.horizons)
    table = table[(table["date"].dt.date >= refresh_start) & (table["date"].dt.date < end)]
    stored = warehouse.query(
        "SELECT * FROM targets WHERE date >= ? AND date < ? ORDER BY date, ticker", [refresh_start, start]
    )
    table = target_set.keep_stored(stored, table, pd.Timestamp(start))
    warehouse.replace_range("targets", table, refresh_start, end)
    return dg.MaterializeResult(
        metadata={
            "rows": len(table),
            "refreshed_from": str(refresh_start),
            "columns": len(table.columns) - 2,
            "newest_complete": dg.MetadataValue.json(
                {
                    f"return_{h}d": str(table.loc[table[f"return_{h}d"].notna(), "date"].max())
                    for h in cfg.targets.horizons
                }
            ),
        }
    )
