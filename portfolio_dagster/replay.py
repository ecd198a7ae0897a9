"""`pmx replay`: operate the platform over historical sessions exactly as the daemon would live.

For each exchange session d in order: the daily schedule's run for partition d (market data through
allocations and the paper ledger), then one tick of the decay sensor with what is known at d, and
the runs it requests, before session d+1. At the end, the backtest and the report over the new days.
Sessions the paper ledger has already booked are skipped, so re-running resumes; Ctrl-C stops after the
current session. The sensor's cursor is kept in `$PMX_HOME/replay_state.json` (the daemon keeps it
in the instance).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from portfolio_dagster import paths
from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.pipeline_execution import execute_run_request

STATE_FILE = "replay_state.json"
REPLAY_TAG = "pmx/replay"


@dataclass
class ReplayOutcome:
    sessions: list[dt.date] = field(default_factory=list)  # booked by this replay
    skipped: list[dt.date] = field(default_factory=list)  # already booked before it
    sensor_runs: list[str] = field(default_factory=list)  # jobs the decay sensor launched
    interrupted: bool = False


def sessions_between(start: dt.date, end: dt.date) -> list[dt.date]:
    from portfolio_dagster.quant import calendar

    return [d.date() for d in calendar.sessions(start, end + dt.timedelta(days=1))]


@contextlib.contextmanager
def _stop_after_session() -> Iterator[dict]:
    """Ctrl-C sets a flag the loop reads between sessions instead of interrupting a run mid-write."""
    flag = {"stop": False}

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        if flag["stop"]:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        flag["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _state_path():
    return paths.home() / STATE_FILE


def _load_cursor() -> str | None:
    path = _state_path()
    return json.loads(path.read_text()).get("sensor_cursor") if path.exists() else None


def _save_cursor(cursor: str | None, session: dt.date) -> None:
    _state_path().write_text(json.dumps({"sensor_cursor": cursor, "last_session": session.isoformat()}))


def replay(
    config: PipelineConfig,
    start: dt.date,
    end: dt.date,
    on_session: Callable[[dt.date, dict], None] | None = None,
) -> ReplayOutcome:
    """Replay every exchange session in [start, end]; `on_session(d, facts)` after each (progress)."""
    from portfolio_dagster.definitions import build_definitions
    from portfolio_dagster.instance import free_slots_of_dead_runs, get_instance
    from portfolio_dagster.resources.warehouse import Warehouse
    from portfolio_dagster.schedules.daily import daily_run_request
    from portfolio_dagster.sensors.decay import evaluate as decay_tick

    defs = build_definitions(paths.config_path(), paths.warehouse_path(), paths.home())
    instance = get_instance()
    free_slots_of_dead_runs(instance)
    warehouse = Warehouse(path=str(paths.warehouse_path()))
    booked = set(_booked(warehouse))
    outcome = ReplayOutcome()
    cursor = _load_cursor()
    with _stop_after_session() as flag:
        for d in sessions_between(start, end):
            if d in booked:
                outcome.skipped.append(d)
                continue
            started = time.perf_counter()
            # A session is one publication of the warehouse users read: its runs and the sensor's.
            with warehouse.unit_of_work():
                request = daily_run_request(config, warehouse, d)
                execute_run_request(
                    defs.resolve_job_def("daily_job"), request, instance, tags={REPLAY_TAG: d.isoformat()}
                )
                daily_s = time.perf_counter() - started
                requests, cursor, _ = decay_tick(config, warehouse, cursor, as_of=d)
                for r in requests:
                    execute_run_request(
                        defs.resolve_job_def(r.job_name), r, instance, tags={REPLAY_TAG: d.isoformat()}
                    )
                    outcome.sensor_runs.append(r.job_name)
            _save_cursor(cursor, d)
            outcome.sessions.append(d)
            if on_session is not None:
                on_session(
                    d,
                    session_facts(warehouse, d)
                    | {
                        "daily_run_s": daily_s,
                        "session_s": time.perf_counter() - started,
                        "retrain_due": request.tags.get("pmx/retrain_due") == "true",
                        "sensor_runs": [r.job_name for r in requests],
                    },
                )
            if flag["stop"]:
                outcome.interrupted = True
                break
    if outcome.sessions:
        # The backtest and the report over the replayed days too (the report's paper section).
        execute_run_request(
            defs.resolve_job_def("evaluation_job"), dg.RunRequest(), instance, tags={REPLAY_TAG: "evaluation"}
        )
    return outcome


def _booked(warehouse) -> list[dt.date]:
    rows = warehouse.query("SELECT date FROM paper_account ORDER BY date")
    return [pd.Timestamp(d).date() for d in rows["date"]] if len(rows) else []


def session_facts(warehouse, d: dt.date) -> dict:
    row = warehouse.query("SELECT nav_usd, daily_return FROM paper_account WHERE date = ?", [d])
    alerts = warehouse.query("SELECT count(*) AS n FROM alerts")
    return {
        "nav_usd": float(row["nav_usd"].iat[0]) if len(row) else None,
        "daily_return": None
        if row.empty or pd.isna(row["daily_return"].iat[0])
        else float(row["daily_return"].iat[0]),
        "alerts": int(alerts["n"].iat[0]) if len(alerts) else 0,
    }
