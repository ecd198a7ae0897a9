"""The feature-drift sensor (config operations.drift_requests_retrain): when the inputs of the model set in
use drift beyond operations.drift_threshold, request retrain_job with a reason saying so. Once per model
set (the cursor), so a drift that persists until the retrained set is in use requests one run."""

import dagster as dg

from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.jobs.pipeline import retrain_job
from portfolio_dagster.resources.alerts import DECAY_RETRAIN_REQUESTED, raise_alert
from portfolio_dagster.resources.feature_drift import drift_report
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.run_tags import DRIFT as DRIFT_TRIGGER
from portfolio_dagster.run_tags import REASON_TAG, TRIGGER_TAG

SENSOR_NAME = "feature_drift_retrain"


def evaluate(
    cfg: PipelineConfig, warehouse: Warehouse, cursor: str | None, log=None
) -> tuple[list[dg.RunRequest], str | None, str]:
    """(run requests, new cursor, message)."""
    if not cfg.operations.drift_requests_retrain:
        return [], cursor, "operations.drift_requests_retrain is off"
    report = drift_report(warehouse, cfg.operations, cfg.strategy.signal_horizon)
    if report.note:
        return [], cursor, report.note
    if report.model_set_id == cursor:
        return [], cursor, f"a retrain was already requested for {cursor}"
    if report.drifting.empty:
        return (
            [],
            cursor,
            f"no drift: max PSI {report.max_psi:.3f} <= {report.threshold} ({report.model_set_id})",
        )
    reason = report.reason()
    raise_alert(
        warehouse,
        cfg,
        DECAY_RETRAIN_REQUESTED,
        reason,
        log=log,
        details={
            "trigger": DRIFT_TRIGGER,
            "model_set_id": report.model_set_id,
            "max_psi": round(report.max_psi, 4),
            "drifting": list(report.drifting["feature"]),
        },
    )
    request = dg.RunRequest(
        run_key=f"drift-retrain-{report.model_set_id}-{report.recent_window}",
        job_name=retrain_job.name,
        tags={REASON_TAG: reason[:1000], TRIGGER_TAG: DRIFT_TRIGGER},
    )
    return [request], report.model_set_id, reason


def build_drift_sensor(cfg: PipelineConfig) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        jobs=[retrain_job],
        minimum_interval_seconds=cfg.operations.sensor_interval_seconds,
        default_status=(
            dg.DefaultSensorStatus.RUNNING
            if cfg.operations.drift_requests_retrain
            else dg.DefaultSensorStatus.STOPPED
        ),
        description="Requests retrain_job when the model inputs drift (PSI above "
        "operations.drift_threshold), if operations.drift_requests_retrain.",
    )
    def feature_drift_retrain(
        context: dg.SensorEvaluationContext, settings: PipelineSettings, warehouse: Warehouse
    ) -> dg.SensorResult:
        requests, cursor, message = evaluate(settings.config, warehouse, context.cursor, context.log)
        if not requests:
            return dg.SensorResult(skip_reason=message, cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return feature_drift_retrain
