"""The decay sensor: rolling out-of-sample skill of the live ensemble forecasts against realized targets.

On decayed skill it requests a retraining run; below the emergency threshold it also sets the
`emergency` flag in operations_state (allocations go to the safe sleeve) and re-decides the newest
day's allocations. The cursor is the newest realized evidence date evaluated: the same evidence
never fires twice.
"""

import json

import dagster as dg
import pandas as pd

from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.jobs.pipeline import reallocate_job, retrain_job
from portfolio_dagster.quant.targets import target_name
from portfolio_dagster.resources.operations_state import EMERGENCY, emergency_flag, write_flag
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.sensors.skill import EMERGENCY as EMERGENCY_ACTION
from portfolio_dagster.sensors.skill import NONE, RECOVERED, RETRAIN, Skill, decide, rolling_skill

REASON_TAG = "pmx/decay_reason"


def forecast_pairs(warehouse: Warehouse, horizon: int) -> pd.DataFrame:
    """Ensemble forecasts at `horizon` with their realized targets (rows still unrealized left out)."""
    column = target_name(horizon)
    pairs = warehouse.query(
        f"SELECT f.date, f.ticker, f.prediction, t.{column} AS realized FROM forecasts f "
        f"JOIN targets t USING (ticker, date) WHERE f.model = 'ensemble' AND f.horizon = ? "
        f"AND t.{column} IS NOT NULL ORDER BY f.date, f.ticker", [horizon])
    return pairs if len(pairs) else pd.DataFrame(columns=["date", "ticker", "prediction", "realized"])


def _record(warehouse: Warehouse, skill: Skill, horizon: int, window: int, action: str) -> None:
    row = pd.DataFrame([{
        "evidence_date": skill.evidence_date.date(), "horizon": horizon, "window_days": window,
        "observations": skill.observations, "directional_accuracy": skill.directional_accuracy,
        "base_rate": skill.base_rate, "ic": skill.ic, "action": action,
        "evaluated_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")}])
    with warehouse.connect() as con:
        con.execute("DELETE FROM forecast_skill WHERE evidence_date = ? AND horizon = ?",
                    [skill.evidence_date.date(), horizon])
        con.register("_row", row)
        con.execute("INSERT INTO forecast_skill BY NAME SELECT * FROM _row")


def evaluate(cfg: PipelineConfig, warehouse: Warehouse, cursor: str | None,
             log=None) -> tuple[list[dg.RunRequest], str | None, str]:
    """(run requests, new cursor, message). Pure decision on top of the warehouse; the sensor wraps it."""
    ops, horizon = cfg.operations, cfg.strategy.signal_horizon
    skill = rolling_skill(forecast_pairs(warehouse, horizon), ops.skill_window_days)
    if skill.evidence_date is None:
        return [], cursor, "no ensemble forecast has a realized target yet"
    evidence = skill.evidence_date.date().isoformat()
    if cursor is not None and evidence <= cursor:
        return [], cursor, f"no new realized evidence since {cursor}"
    flag = emergency_flag(warehouse)
    action, why = decide(skill, ops.retrain_below, ops.emergency_below, ops.min_ic, flag.active)
    if flag.active and action == EMERGENCY_ACTION:
        action, why = NONE, why + " (emergency already active)"
    _record(warehouse, skill, horizon, ops.skill_window_days, action)
    if log is not None:
        log(f"decay sensor: {action}: {why}")
    tags = {REASON_TAG: why[:1000], "pmx/decay_action": action, "pmx/evidence_date": evidence,
            "pmx/directional_accuracy": f"{skill.directional_accuracy:.4f}",
            "pmx/base_rate": f"{skill.base_rate:.4f}", "pmx/ic": f"{skill.ic:.4f}"}
    requests = []
    if action in (RETRAIN, EMERGENCY_ACTION):
        requests.append(dg.RunRequest(run_key=f"decay-retrain-{evidence}", job_name=retrain_job.name, tags=tags))
    if action in (EMERGENCY_ACTION, RECOVERED):
        write_flag(warehouse, EMERGENCY, action == EMERGENCY_ACTION, why, skill.evidence_date.date())
        newest = warehouse.query("SELECT max(date) AS d FROM forecasts")["d"].iat[0]
        requests.append(dg.RunRequest(run_key=f"decay-{action}-{evidence}", job_name=reallocate_job.name,
                                      partition_key=pd.Timestamp(newest).date().isoformat(), tags=tags))
    return requests, evidence, json.dumps({"action": action, "why": why})


def build_sensor(cfg: PipelineConfig) -> dg.SensorDefinition:
    @dg.sensor(name="forecast_decay", jobs=[retrain_job, reallocate_job],
               minimum_interval_seconds=cfg.operations.sensor_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Rolling out-of-sample skill of the ensemble forecasts: retrains on decay, "
                           "switches allocations to the safe sleeve on an emergency.")
    def forecast_decay(context: dg.SensorEvaluationContext, settings: PipelineSettings,
                       warehouse: Warehouse) -> dg.SensorResult:
        requests, cursor, message = evaluate(settings.config, warehouse, context.cursor, context.log.info)
        if not requests:
            return dg.SensorResult(skip_reason=message, cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return forecast_decay
