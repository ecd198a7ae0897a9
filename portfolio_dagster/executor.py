"""The executor of the project's runs: Dagster's multiprocess executor (in-process on request, as
Dagster's default `multi_or_in_process_executor`), its step processes forked from a forkserver that
imported the stages once.

With Dagster's default start method (spawn) each step process imports the whole stack again, 7-14 s
on this machine (pandas, DuckDB, LightGBM, XGBoost, scikit-learn, hmmlearn, Dagster): a daily run of
~15 steps spent minutes starting processes. The forkserver imports PRELOAD_MODULES once per run worker;
each step then forks from it in a fraction of a second. Run config keeps Dagster's own shape
(`execution: {config: {multiprocess: {max_concurrent: 2}}}` or `{in_process: {}}`); a `start_method`
given there wins. `max_concurrent` defaults to the CPU count (2 here); writers still take turns (pool
`warehouse`).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver

import dagster as dg

# Modules the forkserver imports before forking steps: every stage, check and resource (and so the ML
# stack). Import-only modules: nothing here reads the environment or a config file at import.
PRELOAD_MODULES = [
    "portfolio_dagster.assets.all",
    "portfolio_dagster.checks.all",
    "portfolio_dagster.jobs.all",
]
FORKSERVER = {"forkserver": {"preload_modules": PRELOAD_MODULES}}


def _forkserver_by_default(config: dict) -> dict:
    if "multiprocess" not in config:
        return config
    multiprocess = dict(config["multiprocess"])
    if not multiprocess.get("start_method"):
        multiprocess["start_method"] = FORKSERVER
    return {"multiprocess": multiprocess}


_BASE = dg.multi_or_in_process_executor
pmx_executor = _BASE.configured(
    _forkserver_by_default, config_schema=_BASE.config_schema.as_field(), name=_BASE.name
)


def multiprocess_run_config(max_concurrent: int | None = None) -> dict:
    """Run config that selects the multiprocess executor (forkserver) with `max_concurrent` workers
    (None: the CPU count)."""
    return {"execution": {"config": {"multiprocess": {"max_concurrent": max_concurrent}}}}


def start_forkserver() -> None:
    """Start this process's forkserver now: it imports PRELOAD_MODULES in the background (3-4 s here),
    and a multiprocess run started later (Dagster asks for the same forkserver) forks its steps without
    waiting for them. Processes inherit this process's environment and file descriptor 2 as they are
    now."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD_MODULES)
    multiprocessing.forkserver.ensure_running()
