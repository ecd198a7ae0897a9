"""`<stage>_history`: each daily stage's own code over calendar-year partitions, for loading history.

Dagster writes one materialization event per partition of a ranged run, and the stock SQLite event log
spends 5-60 ms on each on a busy 2-core machine: the eight daily stages over 33 years are ~58,000 events,
minutes of bookkeeping before any math. A twin runs the daily asset's function on its years' window
clipped to the configured range (data.start..data.end; decision stages from backtest.start), writing
the same rows of the same tables, and records one event per year. `pmx run` loads the history through
the twins and the range's last week through the daily assets (their checks run, the UI shows those
days materialized, the daily schedule continues from there); the definitions' daily partitions begin
at that week (partitions.daily_partitions). Materialized from the UI, a twin year
covers the part of the year inside the configured range.
"""

import datetime as dt
from collections.abc import Callable, Mapping

import dagster as dg

from portfolio_dagster.partitions import HISTORY_YEARS, SINGLE_RUN, WAREHOUSE_POOL

HISTORY_GROUP = "history"
HISTORY_SUFFIX = "_history"


def history_key(key: dg.AssetKey) -> dg.AssetKey:
    """The key of a daily stage's yearly twin: `<stage>_history`."""
    return dg.AssetKey(f"{key.to_user_string()}{HISTORY_SUFFIX}")


def clipped_window(years: dg.TimeWindow, lower: dt.date, upper: dt.date) -> dg.TimeWindow | None:
    """years ∩ [lower, upper) as a TimeWindow in the same timezone; None when empty."""
    tz = years.start.tzinfo
    start = max(years.start, dt.datetime.combine(lower, dt.time(), tz))
    end = min(years.end, dt.datetime.combine(upper, dt.time(), tz))
    return dg.TimeWindow(start, end) if start < end else None


def history_twin(
    daily: dg.AssetsDefinition,
    call: Callable[[dg.AssetExecutionContext, dt.date, dt.date], dg.MaterializeResult],
    resources: list[str],
    from_backtest_start: bool,
    twins: Mapping[dg.AssetKey, dg.AssetKey],
) -> dg.AssetsDefinition:
    """The yearly twin of `daily`: `call(context, start, end)` (the stage's compute function, as the
    daily asset calls it) over its years clipped to data.start (backtest.start when
    `from_backtest_start`)..data.end; `twins` maps the daily stages built so far to their twins' keys."""
    spec = next(iter(daily.specs))
    name = daily.key.to_user_string()

    @dg.asset(
        key=history_key(daily.key),
        partitions_def=HISTORY_YEARS,
        backfill_policy=SINGLE_RUN,
        pool=WAREHOUSE_POOL,
        group_name=HISTORY_GROUP,
        kinds=set(spec.kinds),
        deps=[twins.get(d.asset_key, d.asset_key) for d in spec.deps],
        required_resource_keys={*resources, "settings"},
        description=f"`{name}` over calendar years (history loads; same code and table as the daily "
        f"asset). {spec.description or ''}".strip(),
    )
    def _history(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        cfg = context.resources.settings.config
        lower = max(cfg.data.start, cfg.backtest.start) if from_backtest_start else cfg.data.start
        window = clipped_window(context.partition_time_window, lower, cfg.data.end + dt.timedelta(days=1))
        if window is None:
            return dg.MaterializeResult(metadata={"rows": 0, "note": "outside the configured date range"})
        result = call(context, window.start.date(), window.end.date())
        return dg.MaterializeResult(
            metadata={
                **(result.metadata or {}),
                "first_date": str(window.start.date()),
                "last_date_exclusive": str(window.end.date()),
            }
        )

    return _history
