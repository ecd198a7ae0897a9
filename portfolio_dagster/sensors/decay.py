"""The decay sensor: rolling out-of-sample skill of the live ensemble forecasts against realized targets.

Point in time: at session `as_of` (the newest session with prices; `pmx replay` passes each replayed
session) the evidence is the forecasts whose targets were realized by as_of (forecast date h sessions
or more before it). On decayed skill it requests a retraining run (trigger `decay`, a cool-down of
`operations.retrain_cooldown_sessions` between two); below the emergency threshold it also records the
emergency in the operations-state history, in force from the next session (never backdated); recovered
skill lifts it the same way. The cursor (JSON) holds the newest evidence evaluated and the last decay
retrain: the same evidence never fires twice.
"""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.jobs.pipeline import retrain_job
from portfolio_dagster.quant.calendar import session_count, session_offset
from portfolio_dagster.quant.targets import target_name
from portfolio_dagster.resources.alerts import (
    DECAY_RETRAIN_REQUESTED,
    EMERGENCY_OFF,
    EMERGENCY_ON,
    raise_alert,
)
from portfolio_dagster.resources.operations_state import EMERGENCY, emergency_flag, set_state
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.run_tags import AS_OF_TAG, DECAY, REASON_TAG, TRIGGER_TAG, VALID_FROM_TAG
from portfolio_dagster.sensors.skill import EMERGENCY as EMERGENCY_ACTION
from portfolio_dagster.sensors.skill import RECOVERED, RETRAIN, Skill, decide, rolling_skill


def forecast_pairs(warehouse: Warehouse, horizon: int, as_of: dt.date) -> pd.DataFrame:
    """Ensemble forecasts at `horizon` whose targets were realized by `as_of`, with those targets."""
    column = target_name(horizon)
    realized_by = session_offset(as_of, -horizon)
    pairs = warehouse.query(
        f"SELECT f.date, f.ticker, f.prediction, t.{column} AS realized FROM forecasts f "
        f"JOIN targets t USING (ticker, date) WHERE f.model = 'ensemble' AND f.horizon = ? "
        f"AND t.{column} IS NOT NULL AND f.date <= ? ORDER BY f.date, f.ticker",
        [horizon, realized_by],
    )
    return pairs if len(pairs) else pd.DataFrame(columns=["date", "ticker", "prediction", "realized"])


def newest_session(warehouse: Warehouse) -> dt.date | None:
    """The newest session the warehouse has prices for (targets when there are no prices)."""
    for table in ("prices", "targets"):
        row = warehouse.query(f"SELECT max(date) AS d FROM {table}")
        if len(row) and not pd.isna(row["d"].iat[0]):
            return pd.Timestamp(row["d"].iat[0]).date()
    return None


def _record(
    warehouse: Warehouse, skill: Skill, horizon: int, window: int, action: str, as_of: dt.date
) -> None:
    row = pd.DataFrame(
        [
            {
                "evidence_date": skill.evidence_date.date(),
                "horizon": horizon,
                "window_days": window,
                "observations": skill.observations,
                "directional_accuracy": skill.directional_accuracy,
                "base_rate": skill.base_rate,
                "ic": skill.ic,
                "action": action,
                "as_of": as_of,
                "evaluated_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"),
            }
        ]
    )
    warehouse.replace_where("forecast_skill", row, "evidence_date", [skill.evidence_date.date()])


def _parse(cursor: str | None) -> dict:
    if not cursor:
        return {"evidence": None, "last_retrain": None}
    if cursor.startswith("{"):
        return {"evidence": None, "last_retrain": None} | json.loads(cursor)
    return {"evidence": cursor, "last_retrain": None}  # a cursor from before the JSON form


def evaluate(
    cfg: PipelineConfig,
    warehouse: Warehouse,
    cursor: str | None,
    log=None,
    as_of: dt.date | None = None,
    run_id: str | None = None,
) -> tuple[list[dg.RunRequest], str | None, str]:
    """(run requests, new cursor, message) at session `as_of`; the sensor and `pmx replay` wrap it."""
    ops, horizon = cfg.operations, cfg.strategy.signal_horizon
    state = _parse(cursor)
    as_of = as_of or newest_session(warehouse)
    if as_of is None:
        return [], cursor, "no prices yet"
    skill = rolling_skill(forecast_pairs(warehouse, horizon, as_of), ops.skill_window_days)
    if skill.evidence_date is None:
        return [], cursor, f"no ensemble forecast has a target realized by {as_of}"
    evidence = skill.evidence_date.date().isoformat()
    if state["evidence"] is not None and evidence <= state["evidence"]:
        return [], cursor, f"no new realized evidence since {state['evidence']}"
    state["evidence"] = evidence
    flag = emergency_flag(warehouse)
    action, why, retrain = decide(skill, ops.retrain_below, ops.emergency_below, ops.min_ic, flag.active)
    if flag.active and action == EMERGENCY_ACTION:
        action, why = RETRAIN, why + " (emergency already active)"
    effective = session_offset(as_of, 1)
    requests = []
    if retrain:
        last = state["last_retrain"]
        waited = session_count(dt.date.fromisoformat(last), as_of) if last else None
        if waited is not None and waited < ops.retrain_cooldown_sessions:
            why += (
                f" (retrain cool-down: the last decay retrain was requested {waited} sessions ago, at {last})"
            )
        else:
            tags = {
                REASON_TAG: why[:1000],
                TRIGGER_TAG: DECAY,
                AS_OF_TAG: as_of.isoformat(),
                VALID_FROM_TAG: effective.isoformat(),
                "pmx/decay_action": action,
                "pmx/evidence_date": evidence,
                "pmx/directional_accuracy": f"{skill.directional_accuracy:.4f}",
                "pmx/base_rate": f"{skill.base_rate:.4f}",
                "pmx/ic": f"{skill.ic:.4f}",
            }
            requests.append(
                dg.RunRequest(run_key=f"decay-retrain-{as_of}", job_name=retrain_job.name, tags=tags)
            )
            state["last_retrain"] = as_of.isoformat()
            raise_alert(
                warehouse,
                cfg,
                DECAY_RETRAIN_REQUESTED,
                f"decay retrain requested at {as_of}: {why}",
                run_id=run_id,
                log=_Log(log),
                details={"as_of": as_of.isoformat(), "valid_from": effective.isoformat()},
            )
    if action in (EMERGENCY_ACTION, RECOVERED):
        on = action == EMERGENCY_ACTION
        if set_state(warehouse, EMERGENCY, on, why, as_of, effective):
            raise_alert(
                warehouse,
                cfg,
                EMERGENCY_ON if on else EMERGENCY_OFF,
                f"emergency {'on' if on else 'off'} from {effective}: {why}",
                run_id=run_id,
                log=_Log(log),
                details={"effective_from": effective.isoformat(), "evidence_date": as_of.isoformat()},
            )
    _record(warehouse, skill, horizon, ops.skill_window_days, action, as_of)
    if log is not None:
        log(f"decay sensor at {as_of}: {action}: {why}")
    return requests, json.dumps(state, sort_keys=True), json.dumps({"action": action, "why": why})


class _Log:
    """A .warning/.info logger over the sensor's single log function (None: silent)."""

    def __init__(self, log):
        self._log = log

    def warning(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    info = warning


def build_sensor(cfg: PipelineConfig) -> dg.SensorDefinition:
    @dg.sensor(
        name="forecast_decay",
        jobs=[retrain_job],
        minimum_interval_seconds=cfg.operations.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Rolling out-of-sample skill of the ensemble forecasts realized by the newest session: "
        "retrains on decay (with a cool-down); the emergency state (safe sleeve) in force from "
        "the next session.",
    )
    def forecast_decay(
        context: dg.SensorEvaluationContext, settings: PipelineSettings, warehouse: Warehouse
    ) -> dg.SensorResult:
        requests, cursor, message = evaluate(settings.config, warehouse, context.cursor, context.log.info)
        if not requests:
            return dg.SensorResult(skip_reason=message, cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return forecast_decay
