"""Shared partitioning: one partition per weekday (NYSE holidays are empty, valid partitions).

The daily path begins where `pmx run` hands over from history: its range's last DAILY_TAIL_SESSIONS
weekdays run as daily partitions, everything before through the yearly `<stage>_history` twins. The
definitions' daily assets start there (`daily_partitions(config's range)`), so the UI shows every daily
partition that exists as materialized and offers no day-by-day "materialize all" over decades that the
twins already hold (history backfills: the twins' years). `operations.daily_partitions_from` moves the
start earlier, for UI backfills of any day range (the days before the last week then show as missing
until backfilled). The assets as first defined span every weekday since PARTITIONS_START (tests
materialize them directly).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

if TYPE_CHECKING:
    from portfolio_dagster.config import PipelineConfig

PARTITIONS_START = dt.date(1990, 1, 1)
# `pmx run` materializes its range's last week as daily partitions: the daily assets' checks run, the
# UI shows those days, the daily schedule and `pmx replay` continue from them.
DAILY_TAIL_SESSIONS = 5
DAILY_KEY_FORMAT = "%Y-%m-%d"


def trading_days(start: dt.date = PARTITIONS_START) -> dg.TimeWindowPartitionsDefinition:
    """Weekday partitions keyed by date from `start`; a window ends where the next weekday starts, so a
    range [first, last] covers exactly the trading days first..last. end_offset=1: today's partition
    exists during the day, so the after-close run can materialize it."""
    return dg.TimeWindowPartitionsDefinition(
        start=start.isoformat(), cron_schedule="0 0 * * 1-5", fmt=DAILY_KEY_FORMAT, end_offset=1
    )


TRADING_DAY_PARTITIONS = trading_days()


def weekday_keys(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The first weekday on or after `start` and the last on or before `end` (may cross: empty)."""
    first = start + dt.timedelta(days=7 - start.weekday()) if start.weekday() >= 5 else start
    last = end - dt.timedelta(days=end.weekday() - 4) if end.weekday() >= 5 else end
    return first, last


def first_daily_session(first: dt.date, last: dt.date) -> dt.date:
    """The first of the last DAILY_TAIL_SESSIONS weekdays of the weekday range [first, last]."""
    return max(first, (pd.Timestamp(last) - pd.offsets.BDay(DAILY_TAIL_SESSIONS - 1)).date())


def daily_partitions(
    start: dt.date, end: dt.date, earliest: dt.date | None = None
) -> dg.TimeWindowPartitionsDefinition:
    """The daily assets' partitions for a history loaded over [start, end] (data.start..data.end):
    from the first session `pmx run` materializes as a daily partition, or from `earliest`
    (operations.daily_partitions_from) when that is before it."""
    first = first_daily_session(*weekday_keys(start, end))
    if earliest is not None:
        first = min(first, weekday_keys(earliest, earliest)[0])
    return trading_days(first)


def configured_daily_partitions(config: PipelineConfig) -> dg.TimeWindowPartitionsDefinition:
    """daily_partitions over config.data's range, from operations.daily_partitions_from if earlier."""
    return daily_partitions(config.data.start, config.data.end, config.operations.daily_partitions_from)


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


def year_pieces(start: dt.date, end: dt.date, years: int = 1) -> list[tuple[dt.date, dt.date]]:
    """[start, end) cut at calendar-year boundaries, `years` calendar years a piece: the pieces a history
    load writes one transaction at a time, so a stage holds one piece of its output, not all of it."""
    cuts = [start] + [dt.date(y, 1, 1) for y in range(start.year + years, end.year + 1, years)] + [end]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if a < b]
