"""The persistent Dagster instance under the data folder (runs recorded there show in the UI)."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import dagster as dg
from sqlalchemy import event
from sqlalchemy.pool import Pool

from portfolio_dagster import paths

# Dagster's own SQLite storage under DAGSTER_HOME/history (no custom storage class: those subclass
# Dagster internals). Its per-event cost is why long ranges load as yearly history partitions
# (assets/history.py). pools.default_limit 1: one warehouse writer at a time across every run and
# process (DuckDB's single-writer lock; every writer is in the `warehouse` pool).
INSTANCE_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 30
"""


# With PMX_POSTGRES_URL set, runs, the event log (and the pools' slots) and schedules/sensors' ticks live
# on that server (dagster-postgres). dagster.yaml names only the variable the URL is in, never the URL.
POSTGRES_URL_ENV = "PMX_POSTGRES_URL"
DAGSTER_POSTGRES_URL_ENV = "PMX_DAGSTER_POSTGRES_URL"  # the same URL with the driver Dagster needs
POSTGRES_STORAGE_YAML = f"""\
storage:
  postgres:
    postgres_url:
      env: {DAGSTER_POSTGRES_URL_ENV}
"""


class InstanceError(Exception):
    """The configured Dagster instance cannot be used (one line, never a password)."""


def instance_yaml() -> str:
    """The instance config: Postgres storage when PMX_POSTGRES_URL is set, else Dagster's SQLite files."""
    return INSTANCE_YAML + (POSTGRES_STORAGE_YAML if os.environ.get(POSTGRES_URL_ENV) else "")


def prepare_home() -> Path:
    """Create DAGSTER_HOME with the project's instance config; export it for this process and children.
    With PMX_POSTGRES_URL: the server is checked first (InstanceError names the host on failure)."""
    home = paths.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        from portfolio_dagster.postgres import check_reachable, dagster_url

        os.environ[DAGSTER_POSTGRES_URL_ENV] = dagster_url(url)
        check_reachable(url)
    config = home / "dagster.yaml"
    text = instance_yaml()
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# Dagster's SQLite storage opens a connection per event and commits each with fsyncs: on this shared
# 2-core machine that is 20-60 ms an event, about 5x the rest of Dagster's work for it (noop ranged run,
# 258 partitions: 16.5 s vs 3.2 s without fsync). pmx's own processes (run, replay, benchmarks) turn
# SQLite's fsync off on those connections through SQLAlchemy's documented pool "connect" event. A killed
# process is safe (the rollback journal still recovers); an OS crash or power loss during a run can damage
# the instance's run history, never the warehouse. PMX_SQLITE_SYNC=1 keeps Dagster's default. The UI's
# processes (`pmx ui`, dagster dev) are unaffected.
SQLITE_SYNC_ENV = "PMX_SQLITE_SYNC"


def _sqlite_without_fsync(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


def fast_event_log() -> None:
    if os.environ.get(SQLITE_SYNC_ENV) != "1" and not event.contains(Pool, "connect", _sqlite_without_fsync):
        event.listen(Pool, "connect", _sqlite_without_fsync)


def get_instance() -> dg.DagsterInstance:
    prepare_home()
    fast_event_log()
    return dg.DagsterInstance.get()


# Tags `pmx run` puts on its in-process runs so a later start can tell whether their process lives.
PID_TAG = "pmx/pid"
HOST_TAG = "pmx/host"


def process_tags() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_slots_of_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Clean up after dead `pmx run` processes (SIGKILL, power loss): their unfinished runs are
    marked failed and their pool slots freed, as are slots still held by finished runs. Without
    this a killed run keeps the `warehouse` slot and every later run waits for it forever (the
    daemon's run monitoring covers only runs it launched). Returns the run ids cleaned up."""
    unfinished = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ]
        )
    )
    here = socket.gethostname()
    cleaned = []
    for run in unfinished:
        if run.tags.get(HOST_TAG) == here and PID_TAG in run.tags and not _alive(int(run.tags[PID_TAG])):
            instance.report_run_failed(run, f"process {run.tags[PID_TAG]} is gone; pool slots freed")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            cleaned.append(run.run_id)
    for run_id in instance.event_log_storage.get_concurrency_run_ids() - set(cleaned):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            cleaned.append(run_id)
    return cleaned
