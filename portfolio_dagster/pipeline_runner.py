"""Materialize the graph stage by stage as real Dagster runs in the persistent instance."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg
import pandas as pd

from portfolio_dagster import paths
from portfolio_dagster.config import PipelineConfig

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Dagster's console logger prints every event (thousands per backfill); progress lines replace it.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DECISION_STAGES = ("forecasts", "regimes", "signals", "allocations")
HEADLINE = ("annual_return", "annual_volatility", "sharpe", "max_drawdown")


class RunFailed(Exception):
    """A Dagster run failed; the message is the failing step's reason in one line."""


def _reason(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.event_type_value in ("STEP_FAILURE", "ASSET_CHECK_EVALUATION") and event.is_step_failure:
            error = event.step_failure_data.error
            while error.cause is not None:
                error = error.cause
            first = (error.message or "").strip().splitlines()
            return f"{event.step_key}: {first[0] if first else error.cls_name}"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                return f"check {evaluation.check_name} failed on {evaluation.asset_key.to_user_string()}"
    return "run failed"


def stages(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    from portfolio_dagster.assets.all import PIPELINE
    from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS

    return [RAW_PRICE_ASSETS[s] for s in config.data.sources] + list(PIPELINE)


def run_pipeline(config: PipelineConfig, partition_range: tuple[str, str],
                 echo: Callable[[str], None] = print) -> list[str]:
    """One run per asset, in order; partitioned assets get the whole range in one run. Returns run ids."""
    from portfolio_dagster.definitions import build_definitions
    from portfolio_dagster.instance import free_slots_of_dead_runs, get_instance, process_tags

    defs = build_definitions(paths.config_path(), paths.warehouse_path(), paths.home())
    job = defs.resolve_implicit_global_asset_job_def()
    instance = get_instance()
    freed = free_slots_of_dead_runs(instance)
    if freed:
        echo(f"pmx: cleaned up {len(freed)} dead run(s): marked failed, warehouse pool slots freed")
    plan = stages(config)
    first, last = partition_range
    # Stages after `models` have nothing to compute before the first model: start them at the
    # backtest start (each partition costs Dagster events even when empty).
    decisions_first = max(first, config.backtest.start.isoformat())
    echo(f"pmx: {len(plan)} stages over {first}..{last}; warehouse {paths.warehouse_path()}")
    run_ids = []
    for i, asset in enumerate(plan, start=1):
        start = decisions_first if asset.key.to_user_string() in DECISION_STAGES else first
        tags = {RANGE_START_TAG: start, RANGE_END_TAG: last} if asset.partitions_def else {}
        tags |= process_tags()
        name = asset.key.to_user_string()
        t0 = time.monotonic()
        result = job.execute_in_process(run_config=QUIET_RUN_CONFIG, instance=instance,
                                        asset_selection=[asset.key], tags=tags,
                                        raise_on_error=False)
        run_ids.append(result.run_id)
        if not result.success:
            echo(f"[{i}/{len(plan)}] {name:<18} FAILED (run {result.run_id[:8]})")
            raise RunFailed(_reason(result))
        rows = _materialized_rows(result)
        echo(f"[{i}/{len(plan)}] {name:<18} ok  {time.monotonic() - t0:6.1f} s  {rows}")
    return run_ids


def _materialized_rows(result: dg.ExecuteInProcessResult) -> str:
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if "rows" in meta:
            return f"rows={meta['rows'].value}"
        if "trained" in meta:
            return f"trained={meta['trained'].value}"
    return ""


def latest_summary() -> tuple[str | None, str | None, str]:
    """(headline table, latest allocation, report path) as text; None when nothing has run."""
    from portfolio_dagster.assets.report import REPORT_FILE
    from portfolio_dagster.resources.warehouse import Warehouse

    report_path = paths.home() / "reports" / REPORT_FILE
    if not paths.warehouse_path().exists():
        return None, None, str(report_path)
    warehouse = Warehouse(path=str(paths.warehouse_path()))
    summary = warehouse.query("SELECT * FROM backtest_summary")
    if summary.empty:
        return None, None, str(report_path)
    table = summary.pivot(index="strategy", columns="metric", values="value")
    table = table.reindex(index=[s for s in ("ml_barbell", "equal_weight", "benchmark") if s in table.index],
                          columns=list(HEADLINE))
    latest = warehouse.query("SELECT date, ticker, weight, sleeve, reasons FROM latest_allocations "
                             "ORDER BY sleeve, weight DESC")
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        head = table.to_string()
        alloc = f"latest allocation ({latest['date'].iat[0]}):\n{latest.to_string(index=False)}" \
            if len(latest) else None
    return head, alloc, str(report_path)
