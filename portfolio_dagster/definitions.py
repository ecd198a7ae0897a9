"""The one Definitions object: assets, checks, jobs and resources over the configured warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from portfolio_dagster import paths
from portfolio_dagster.assets.all import ALL_ASSETS, HISTORY_ASSETS
from portfolio_dagster.assets.stage import over_partitions
from portfolio_dagster.checks.all import build_checks
from portfolio_dagster.config import load_config
from portfolio_dagster.executor import pmx_executor
from portfolio_dagster.jobs.all import build_jobs
from portfolio_dagster.partitions import configured_daily_partitions
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.provider_keys import ProviderKeys
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.schedules.all import build_schedules
from portfolio_dagster.sensors.all import build_sensors


def build_definitions(
    config_path: Path, warehouse_path: Path, home: Path, executor: dg.ExecutorDefinition = pmx_executor
) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor over the config at `config_path`, the warehouse at
    `warehouse_path` and the model store under `home`: nothing is read from the environment here.
    `executor`: the runs' (portfolio_dagster/executor.py: multiprocess with a forkserver by default)."""
    cfg = load_config(config_path)
    jobs = build_jobs(cfg)
    # The daily assets from the first session the daily path materializes (partitions.py): the UI shows
    # what exists; the history before it is in the `<stage>_history` twins.
    days = configured_daily_partitions(cfg)
    return dg.Definitions(
        assets=[*over_partitions(ALL_ASSETS, days), *HISTORY_ASSETS],
        asset_checks=build_checks(days),
        jobs=list(jobs),
        schedules=list(build_schedules(cfg, jobs[0])),
        sensors=list(build_sensors(cfg)),
        executor=executor,
        resources={
            "settings": PipelineSettings(config_path=str(config_path)),
            "warehouse": Warehouse(path=str(warehouse_path)),
            "artifacts": ArtifactStore(root=str(home)),
            "provider_keys": ProviderKeys(),
        },
    )


defs = build_definitions(paths.config_path(), paths.warehouse_path(), paths.home())
