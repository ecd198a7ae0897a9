"""The persistent Dagster instance under the data folder (runs recorded there show in the UI)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from portfolio_dagster import paths

# pools.default_limit 1: one warehouse writer at a time across every run and process (DuckDB's
# single-writer lock; every writer is in the `warehouse` pool).
INSTANCE_YAML = """\
event_log_storage:
  module: portfolio_dagster.event_log
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {home}/history/runs
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 30
"""


def prepare_home() -> Path:
    """Create DAGSTER_HOME with the project's instance config; export it for this process and children."""
    home = paths.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = INSTANCE_YAML.format(home=home)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance() -> dg.DagsterInstance:
    prepare_home()
    return dg.DagsterInstance.get()
