"""Checks over the partitions a run materializes, on a daily stage and on its yearly twin.

A check that scanned its whole table cost a daily session at 500 names x 20 years ~9 s of ~28 s
(features_finite alone 6 s), for rows the session did not write. A `WindowCheck` reads only its run's
window [start, end) (plus the history its rule needs) and is built twice: on the daily asset over the
definitions' daily partitions (a session checks its day) and on the stage's `<stage>_history` twin over
calendar years (`pmx run` and history backfills check every year they load, as the whole-table check did).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from portfolio_dagster.assets.stage import held_warehouse
from portfolio_dagster.partitions import HISTORY_YEARS, TRADING_DAY_PARTITIONS


def holding_warehouse(fn: Callable[..., dg.AssetCheckResult]) -> Callable[..., dg.AssetCheckResult]:
    """The check function with its `warehouse` resource held open while it runs (Warehouse.held: its
    queries attach to one open database instead of opening the file each)."""

    @functools.wraps(fn)
    def run(*args: object, **resources: object) -> dg.AssetCheckResult:
        with held_warehouse(resources):
            return fn(*args, **resources)

    return run


def run_window(context: dg.AssetCheckExecutionContext) -> tuple[dt.date, dt.date]:
    """[start, end) of the partitions the check runs over, as dates."""
    window = context.partition_time_window
    return window.start.date(), window.end.date()


@dataclass(frozen=True)
class WindowCheck:
    """A check function `fn(context, ...)` that reads `run_window(context)`, with its Dagster spec."""

    fn: Callable[..., dg.AssetCheckResult]
    asset: dg.AssetKey
    name: str
    blocking: bool
    description: str

    def on(
        self, asset: dg.AssetKey | None = None, partitions_def: dg.PartitionsDefinition | None = None
    ) -> dg.AssetChecksDefinition:
        """The check on `asset` (the daily stage by default) over `partitions_def` (every weekday)."""
        return dg.asset_check(
            asset=asset or self.asset,
            name=self.name,
            blocking=self.blocking,
            partitions_def=partitions_def or TRADING_DAY_PARTITIONS,
            description=f"{self.description} Over the run's partitions.",
        )(holding_warehouse(self.fn))

    def on_history(self, twin: dg.AssetKey) -> dg.AssetChecksDefinition:
        """The check on the stage's yearly twin `twin`, over its calendar years."""
        return self.on(twin, HISTORY_YEARS)


def window_check(
    asset: dg.AssetsDefinition, *, blocking: bool, description: str
) -> Callable[[Callable[..., dg.AssetCheckResult]], WindowCheck]:
    """Decorator: the function as a WindowCheck on `asset`'s key, named after the function."""

    def wrap(fn: Callable[..., dg.AssetCheckResult]) -> WindowCheck:
        return WindowCheck(fn, asset.key, fn.__name__, blocking, description)

    return wrap
