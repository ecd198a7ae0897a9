"""Shared partitioning: one partition per weekday (NYSE holidays are empty, valid partitions)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

PARTITIONS_START = dt.date(1990, 1, 1)
# Weekday partitions keyed by date; a window ends where the next weekday starts, so a range
# [first, last] covers exactly the trading days first..last. end_offset=1: today's partition
# exists during the day, so the after-close run can materialize it.
TRADING_DAY_PARTITIONS = dg.TimeWindowPartitionsDefinition(
    start=PARTITIONS_START.isoformat(),
    cron_schedule="0 0 * * 1-5",
    fmt="%Y-%m-%d",
    end_offset=1,
)
# History in calendar years (the `<stage>_history` assets of assets/history.py): a 30-year load
# records ~30 partitions per stage instead of ~8,000 daily ones. A window is [Jan 1, next Jan 1).
HISTORY_YEARS = dg.TimeWindowPartitionsDefinition(
    start=str(PARTITIONS_START.year),
    cron_schedule="0 0 1 1 *",
    fmt="%Y",
    end_offset=1,
)
SINGLE_RUN = dg.BackfillPolicy.single_run()
# Every warehouse writer joins this pool; the instance limits it to 1 so writers never overlap
# on DuckDB's single-writer file lock.
WAREHOUSE_POOL = "warehouse"


def window(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The partition range being materialized as [start, end) dates."""
    tw = context.partition_time_window
    return tw.start.date(), tw.end.date()


def trading_days_before(day: dt.date, n: int) -> dt.date:
    """A calendar date at least `n` trading days before `day` (weekdays, plus holiday slack)."""
    return day - dt.timedelta(days=int(n * 7 / 5) + 14)
