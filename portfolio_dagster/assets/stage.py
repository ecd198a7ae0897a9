"""The stage factory: a daily stage is a plain compute function over a time window and its resources.

`@daily_stage(phase=..., ...)` turns such a function into the daily asset (partitioned by trading day) and,
unless `history=False`, its yearly `<stage>_history` twin (assets/history.py), both calling the same
function. The phase is an asset tag (PHASE_TAG): `pmx run`'s plan, the jobs, the daily selection and the
decision stages are all derived from it (assets/all.py, pipeline_runner.plan, jobs/pipeline.py), so a
stage is written once. Only public Dagster API: the assets call the function with a StageContext built
from their own execution context.
"""

import contextlib
import datetime as dt
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import dagster as dg

from portfolio_dagster.assets.history import history_twin
from portfolio_dagster.partitions import SINGLE_RUN, TRADING_DAY_PARTITIONS, WAREHOUSE_POOL
from portfolio_dagster.resources.warehouse import Warehouse

PHASE_TAG = "pmx/phase"
# The phases of the platform. `pmx run` runs RUN_PHASES in this order (market history, models, decisions,
# evaluation); operations (the paper ledger) is booked session by session by the schedule and `pmx replay`.
MARKET = "market"
MODELS = "models"
DECISIONS = "decisions"
EVALUATION = "evaluation"
OPERATIONS = "operations"
RUN_PHASES = (MARKET, MODELS, DECISIONS, EVALUATION)
PHASES = (*RUN_PHASES, OPERATIONS)
# Phases whose history starts at backtest.start (they decide: forecast, regime, signal, weights).
BACKTEST_PHASES = (DECISIONS,)


def phase_tags(phase: str) -> dict[str, str]:
    """The asset tags of a stage of `phase` (one of PHASES)."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}: one of {', '.join(PHASES)}")
    return {PHASE_TAG: phase}


def phase_of(asset: dg.AssetsDefinition) -> str | None:
    """The phase tag of an asset (None for an asset outside the registry of stages)."""
    return next(iter(asset.specs)).tags.get(PHASE_TAG)


@dataclass(frozen=True)
class StageContext:
    """What a stage's compute function gets besides its resources: the window [start, end) of dates it
    computes, the Dagster run it runs in and that run's log."""

    window: tuple[dt.date, dt.date]
    run_id: str
    log: logging.Logger | dg.DagsterLogManager


@dataclass(frozen=True)
class DailyStage:
    """One registered daily stage: its compute function, phase, daily asset and history twin."""

    compute: Callable[..., dg.MaterializeResult]
    phase: str
    daily: dg.AssetsDefinition
    history: dg.AssetsDefinition | None


# Every daily stage built by `daily_stage`, by asset key, in the order the modules define them.
REGISTRY: dict[dg.AssetKey, DailyStage] = {}


def _resource_names(compute: Callable) -> list[str]:
    """The compute function's parameters after the StageContext: the resource keys it needs."""
    return list(inspect.signature(compute).parameters)[1:]


def held_warehouse(resources: Mapping[str, object]) -> contextlib.AbstractContextManager:
    """The `warehouse` resource among `resources` held open for the block (Warehouse.held), if any."""
    warehouse = resources.get("warehouse")
    return warehouse.held() if isinstance(warehouse, Warehouse) else contextlib.nullcontext()


def _caller(compute: Callable, resources: list[str]) -> Callable[..., dg.MaterializeResult]:
    def call(context: dg.AssetExecutionContext, start: dt.date, end: dt.date) -> dg.MaterializeResult:
        stage = StageContext((start, end), context.run.run_id, context.log)
        given = {name: getattr(context.resources, name) for name in resources}
        with held_warehouse(given):
            return compute(stage, **given)

    return call


def daily_stage(
    *, phase: str, history: bool = True, **asset_args: object
) -> Callable[[Callable[..., dg.MaterializeResult]], dg.AssetsDefinition]:
    """Decorate `compute(context: StageContext, <resource>: ..., ...) -> dg.MaterializeResult` into the
    daily asset of `phase` (and its yearly history twin with `history`); returns the daily asset.
    `asset_args` go to dg.asset (name or key, group_name, kinds, deps, description, ...)."""

    def build(compute: Callable[..., dg.MaterializeResult]) -> dg.AssetsDefinition:
        resources = _resource_names(compute)
        call = _caller(compute, resources)
        args: dict[str, object] = {
            "partitions_def": TRADING_DAY_PARTITIONS,
            "backfill_policy": SINGLE_RUN,
            "pool": WAREHOUSE_POOL,
            "description": compute.__doc__,
            **asset_args,
            "tags": {**dict(asset_args.get("tags") or {}), **phase_tags(phase)},
            "required_resource_keys": set(resources),
        }
        if "key" not in args:
            args.setdefault("name", compute.__name__)

        @dg.asset(**args)
        def daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            tw = context.partition_time_window
            return call(context, tw.start.date(), tw.end.date())

        twin = None
        if history:
            twins = {key: s.history.key for key, s in REGISTRY.items() if s.history is not None}
            twin = history_twin(daily, call, resources, phase in BACKTEST_PHASES, twins)
        REGISTRY[daily.key] = DailyStage(compute, phase, daily, twin)
        return daily

    return build


def over_partitions(
    assets: Iterable[dg.AssetsDefinition], partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The assets with each daily stage's partitioned by `partitions_def` instead (the same function;
    build_definitions narrows the daily assets to the sessions of the daily path), the rest as given."""
    return [
        a.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions_def))
        if a.key in REGISTRY and a is REGISTRY[a.key].daily
        else a
        for a in assets
    ]


def twin_of(asset: dg.AssetsDefinition) -> dg.AssetsDefinition | None:
    """The yearly history twin of a daily stage (None when it has none or is not a daily stage)."""
    found = REGISTRY.get(asset.key)
    return found.history if found is not None else None


def by_phase(assets: Iterable[dg.AssetsDefinition]) -> dict[str, list[dg.AssetsDefinition]]:
    """The assets grouped by phase, each group in the given order."""
    out: dict[str, list[dg.AssetsDefinition]] = {}
    for asset in assets:
        out.setdefault(phase_of(asset) or "", []).append(asset)
    return out
