"""Unattended schedules: the new trading day after the US close, and weekly retraining."""

import datetime as dt

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.models import MODEL_LINEAGE_SECTIONS
from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.jobs.pipeline import MODELS_SELECTION, build_daily_job, daily_selection, retrain_job
from portfolio_dagster.quant.walk_forward import _PERIOD
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

SCHEDULE_TAG = "pmx/schedule"
SESSION_TAG = "pmx/session"  # the trading day a daily run books
# A day's daily run in one of these states makes a later tick for the same day a skip: Dagster dedupes a
# schedule's run_key per tick only, so a cron more frequent than the run is long (a test's every-minute
# cron) queued a new run of the same day each minute, all waiting on the one warehouse pool slot.
_LIVE_OR_DONE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.SUCCESS,
]


def retrain_due(cfg: PipelineConfig, warehouse: Warehouse, day: dt.date) -> bool:
    """True when `day` opens a retrain period (models.retrain_frequency) no model of this config covers."""
    newest = warehouse.query(
        "SELECT max(valid_from) AS v FROM model_registry WHERE config_hash = ?",
        [cfg.fingerprint(*MODEL_LINEAGE_SECTIONS)],
    )
    if newest.empty or pd.isna(newest["v"].iat[0]):
        return True
    period = _PERIOD[cfg.models.retrain_frequency]
    return pd.Timestamp(day).to_period(period) > pd.Timestamp(newest["v"].iat[0]).to_period(period)


def _daily_assets() -> list:
    from portfolio_dagster.assets.all import ALL_ASSETS

    return list(ALL_ASSETS)


def daily_run_request(cfg: PipelineConfig, warehouse: Warehouse, day: dt.date) -> dg.RunRequest:
    """The run for trading day `day`: market data through allocations, with the models first if due."""
    due = retrain_due(cfg, warehouse, day)
    selection = daily_selection(cfg) | MODELS_SELECTION if due else daily_selection(cfg)
    return dg.RunRequest(
        run_key=f"daily-{day.isoformat()}",
        partition_key=day.isoformat(),
        asset_selection=list(selection.resolve(_daily_assets())),
        tags={
            SCHEDULE_TAG: "daily_after_close",
            SESSION_TAG: day.isoformat(),
            "pmx/retrain_due": str(due).lower(),
        },
    )


def build_schedules(cfg: PipelineConfig, daily_job=None) -> tuple[dg.ScheduleDefinition, ...]:
    """daily_after_close (of `daily_job`, built from cfg when not given) and weekly_retrain."""
    ops = cfg.operations
    daily_job = daily_job or build_daily_job(cfg)

    @dg.schedule(
        name="daily_after_close",
        cron_schedule=ops.daily_cron,
        execution_timezone=ops.timezone,
        job=daily_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="After the US close (exchange time): the day's partition through allocations; "
        "the incremental models asset too when a retrain period opens.",
    )
    def daily_after_close(
        context: dg.ScheduleEvaluationContext, settings: PipelineSettings, warehouse: Warehouse
    ) -> dg.RunRequest | dg.SkipReason:
        day = context.scheduled_execution_time.date()  # already in the exchange's timezone
        if context.instance_ref is not None:
            earlier = context.instance.get_runs(
                filters=dg.RunsFilter(
                    tags={SCHEDULE_TAG: "daily_after_close", SESSION_TAG: day.isoformat()},
                    statuses=_LIVE_OR_DONE,
                ),
                limit=1,
            )
            if earlier:
                return dg.SkipReason(
                    f"the daily run of {day} is {earlier[0].status.value.lower()}: {earlier[0].run_id}"
                )
        return daily_run_request(settings.config, warehouse, day)

    weekly_retrain = dg.ScheduleDefinition(
        name="weekly_retrain",
        job=retrain_job,
        cron_schedule=ops.retrain_cron,
        execution_timezone=ops.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        tags={SCHEDULE_TAG: "weekly_retrain"},
        description="Weekly retraining: trains the retrain dates missing from model_registry.",
    )
    return daily_after_close, weekly_retrain
