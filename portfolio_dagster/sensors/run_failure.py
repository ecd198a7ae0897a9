"""The run-failure sensor: every failed run of this code location becomes a `run_failed` alert."""

import dagster as dg

from portfolio_dagster.resources.alerts import RUN_FAILED, alerts_raised, raise_alert
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

SENSOR_NAME = "alert_on_run_failure"


def failure_reason(context: dg.RunFailureSensorContext) -> tuple[str, list[str]]:
    """(the first failing step's first error line, every failed step key)."""
    steps = context.get_step_failure_events()
    keys = [e.step_key for e in steps if e.step_key]
    for event in steps:
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None and (error.message or "").strip():
            return f"{event.step_key}: {error.message.strip().splitlines()[0]}", keys
    message = (context.failure_event.message or "").strip()
    return (message.splitlines()[0] if message else "run failed"), keys


@dg.run_failure_sensor(
    name=SENSOR_NAME,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="A failed run raises a run_failed alert (alerts table, JSON-lines file, webhook).",
)
def alert_on_run_failure(
    context: dg.RunFailureSensorContext, settings: PipelineSettings, warehouse: Warehouse
) -> None:
    run = context.dagster_run
    if alerts_raised(warehouse, RUN_FAILED, run=run.run_id):
        return  # the same failure seen again (a sensor retry): one alert per run
    reason, steps = failure_reason(context)
    partition = run.tags.get("dagster/partition") or "..".join(
        filter(
            None,
            (
                run.tags.get("dagster/asset_partition_range_start"),
                run.tags.get("dagster/asset_partition_range_end"),
            ),
        )
    )
    raise_alert(
        warehouse,
        settings.config,
        RUN_FAILED,
        f"run of {run.job_name} failed: {reason}"[:2000],
        run_id=run.run_id,
        log=context.log,
        details={
            "run": run.run_id,
            "job": run.job_name,
            "partition": partition or None,
            "failed_steps": steps,
        },
    )
