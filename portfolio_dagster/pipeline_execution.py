"""Materialize the graph as real Dagster runs in the persistent instance, with a progress display.

`execute` launches one run (in this process, or a named job on the multiprocess executor whose step
processes rebuild it through `pipeline_job`); `execute_run_request` runs a schedule's or sensor's
RunRequest; `run_pipeline` runs the plan of `pmx run` (pipeline_runner.plan).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence

import dagster as dg

from portfolio_dagster import paths
from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.library_log import stderr_to_log
from portfolio_dagster.pipeline_progress import StageProgress
from portfolio_dagster.pipeline_runner import RunFailed, plan
from portfolio_dagster.pipeline_summary import (
    STEP_EVENTS,
    PipelineResult,
    failure_reason,
    stage_timings,
    warnings_of,
)
from portfolio_dagster.resources.provider_keys import KEY_ENV

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Dagster's console logger prints every event (thousands per backfill) and a stack trace per failed
# step; the progress display and one-line errors replace it. `--debug` restores it (DEBUG_RUN_CONFIG).
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DEBUG_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
# One ASSET_MATERIALIZATION_PLANNED event per asset and run instead of one per partition (Dagster reads
# this variable when it creates a run). Trade-off, per Dagster: partitions of a failed ranged run show
# as missing, not failed, in the UI (pmx prints the failure). Set it to 0 to keep per-partition events.
PLANNED_EVENTS_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
# Tag of a run Dagster creates with an id of its own (the multiprocess runs): how pmx finds it.
LAUNCH_TAG = "pmx/launch"


# ---------------------------------------------------------------------------------------------
# executing runs


def run_config(debug: bool = False) -> dict:
    return DEBUG_RUN_CONFIG if debug else QUIET_RUN_CONFIG


def _watch(
    instance: dg.DagsterInstance,
    run_id: str | Callable[[], str | None],
    stop: threading.Event,
    on_event: Callable[[dg.EventLogEntry], None],
    interval_s: float = 0.5,
) -> None:
    """Feed `on_event` the run's step and materialization events as they are stored. `run_id`: the id,
    or a function finding it once the run is stored (a run Dagster creates itself)."""
    cursor = None
    find = run_id if callable(run_id) else None
    while True:
        stopping = stop.wait(interval_s)
        if find is not None:
            try:
                run_id = find()
            except Exception:  # noqa: BLE001 - as below: a display never fails a run
                run_id = None
            if run_id is None:
                if stopping:
                    return
                continue
            find = None
        try:
            conn = instance.get_records_for_run(run_id, cursor=cursor, of_type=STEP_EVENTS, limit=5000)
        except Exception:  # noqa: BLE001 - the run may not be stored yet; a display must not fail a run
            conn = None
        if conn is not None:
            for record in conn.records:
                on_event(record.event_log_entry)
            cursor = conn.cursor
            if conn.has_more:
                continue
        if stopping:
            return


def pipeline_job(job_name: str, config_path: str, warehouse_path: str, home: str) -> dg.JobDefinition:
    """A named job of build_definitions(config_path, warehouse_path, home): what each step process of a
    multiprocess run rebuilds (dg.build_reconstructable_job points here; the arguments are paths, never
    secrets: they are stored with the run)."""
    from pathlib import Path

    from portfolio_dagster.definitions import build_definitions

    # Code in a step that resolves the data folder itself (alerts.jsonl) sees this run's, even when the
    # forkserver it forks from was started for another folder earlier in this process.
    os.environ["PMX_HOME"] = home
    return build_definitions(Path(config_path), Path(warehouse_path), Path(home)).resolve_job_def(job_name)


# The environment (PMX_* variables but the paths, which the step processes are given) that this process's
# forkserver inherited when its first multiprocess run started it: multiprocessing keeps one forkserver
# per process, and its forked step processes see that environment, not this process's current one.
_forkserver_env: dict[str, str] | None = None
_PATH_VARIABLES = ("PMX_HOME", "PMX_CONFIG", "PMX_WAREHOUSE")
# Beside the PMX_* variables: what else a step reads from its environment (the providers' API keys,
# the numeric libraries' thread counts, which keep results deterministic).
_STEP_VARIABLES = (
    *KEY_ENV.values(),
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "PYTHONHASHSEED",
)


def _forkserver_env_current() -> bool:
    """True if a multiprocess run started now gets this process's environment in its steps: no run
    started the forkserver yet, or the variables that shape a step (PMX_* but the paths, e.g.
    PMX_DAGSTER_POSTGRES_URL, the instance the step writes its events to; _STEP_VARIABLES: the API keys
    and thread counts) are unchanged since. False only where one process runs pmx for several
    environments (tests): such a run goes in-process instead."""
    global _forkserver_env
    env = {
        k: v
        for k, v in os.environ.items()
        if (k.startswith("PMX_") and k not in _PATH_VARIABLES) or k in _STEP_VARIABLES
    }
    if _forkserver_env is None:
        _forkserver_env = env
    return env == _forkserver_env


def _definitions_at_paths() -> dg.Definitions:
    from portfolio_dagster.definitions import build_definitions

    return build_definitions(paths.config_path(), paths.warehouse_path(), paths.home())


def _quiet_forkserver(debug: bool) -> None:
    if not debug:
        # The forkserver is a new interpreter: Dagster's beta/preview notices on our definitions, which
        # this process silences (silence_library_notices), would print once per import.
        os.environ.setdefault("PYTHONWARNINGS", "ignore")


def prestart_forkserver(debug: bool = False) -> bool:
    """Start the forkserver of the multiprocess runs now, as `execute` would start it (its stderr the
    data folder's log), so its imports overlap the runs before the first multiprocess run. False (and
    nothing started) with `debug` (its output stays on the terminal) or where a run would go in-process
    (_forkserver_env_current)."""
    from portfolio_dagster.executor import start_forkserver

    if debug or not _forkserver_env_current():
        return False
    _quiet_forkserver(debug)
    with stderr_to_log(paths.home()):
        start_forkserver()
    return True


def execute(
    job: dg.JobDefinition | str,
    instance: dg.DagsterInstance,
    *,
    asset_keys: Sequence[dg.AssetKey] | None,
    partition_key: str | None = None,
    partition_range: tuple[str, str] | None = None,
    tags: dict[str, str] | None = None,
    debug: bool = False,
    on_event: Callable[[dg.EventLogEntry], None] | None = None,
):
    """One run in the persistent instance; `on_event` sees its step events while it runs. `job`: a job
    definition (run in this process), or the name of a job of the definitions at pmx's paths (run on the
    multiprocess executor: its steps in processes forked from a forkserver, at once where the graph and
    the pools allow). Returns the ExecuteInProcessResult or ExecutionResult (same interface here)."""
    from portfolio_dagster.instance import process_tags

    run_tags = {**(tags or {}), **process_tags()}
    if partition_range is not None:
        run_tags |= {RANGE_START_TAG: partition_range[0], RANGE_END_TAG: partition_range[1]}
    os.environ.setdefault(PLANNED_EVENTS_ENV, "1")
    run_id = str(uuid.uuid4())
    selection = list(asset_keys) if asset_keys is not None else None
    if isinstance(job, str) and not _forkserver_env_current():
        job = _definitions_at_paths().resolve_job_def(job)  # see _forkserver_env_current: in this process
    watched: str | Callable[[], str | None] = run_id
    if isinstance(job, str):
        run_tags[LAUNCH_TAG] = run_id  # Dagster picks the run id: the watcher finds the run by this tag

        def watched() -> str | None:
            runs = instance.get_run_ids(
                filters=dg.RunsFilter(tags={LAUNCH_TAG: run_tags[LAUNCH_TAG]}), limit=1
            )
            return runs[0] if runs else None

    stop = threading.Event()
    watcher = None
    if on_event is not None:
        watcher = threading.Thread(target=_watch, args=(instance, watched, stop, on_event), daemon=True)
        watcher.start()
    try:
        if isinstance(job, str):
            from portfolio_dagster.executor import multiprocess_run_config

            _quiet_forkserver(debug)
            recon = dg.build_reconstructable_job(
                __name__,
                pipeline_job.__name__,
                reconstructable_kwargs={
                    "job_name": job,
                    "config_path": str(paths.config_path()),
                    "warehouse_path": str(paths.warehouse_path()),
                    "home": str(paths.home()),
                },
            )
            # The step processes print Dagster's "Executing step ... in subprocess" lines on their
            # stderr, before any run config applies: the forkserver started here hands them the log.
            with contextlib.nullcontext() if debug else stderr_to_log(paths.home()):
                return dg.execute_job(
                    recon,
                    instance,
                    run_config=run_config(debug) | multiprocess_run_config(),
                    tags=run_tags,
                    asset_selection=selection,
                    raise_on_error=False,
                )
        return job.execute_in_process(
            run_config=run_config(debug),
            instance=instance,
            run_id=run_id,
            partition_key=partition_key,
            asset_selection=selection,
            tags=run_tags,
            raise_on_error=False,
        )
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()


def execute_run_request(
    job: dg.JobDefinition,
    request: dg.RunRequest,
    instance: dg.DagsterInstance,
    *,
    progress: StageProgress | None = None,
    debug: bool = False,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Execute a schedule's or sensor's RunRequest (e.g. one daily session) in this process against
    the persistent instance, as the daemon would launch it: its partition key, asset selection and
    tags (plus `tags` and this process's pid tags). Raises RunFailed (one line: stage and cause);
    returns the result on success. `progress` (optional) shows a bar per stage."""
    keys = list(request.asset_selection) if request.asset_selection is not None else None
    partition_key = request.partition_key
    names = [k.to_user_string() for k in keys] if keys is not None else []
    if progress is not None:
        progress.start_phase(f"{job.name} {partition_key or ''}".strip(), names, 1)
    result = execute(
        job,
        instance,
        asset_keys=keys,
        partition_key=partition_key,
        tags={**request.tags, **(tags or {})},
        debug=debug,
        on_event=progress.on_event if progress is not None else None,
    )
    if progress is not None:
        progress.end_phase(result.success)
    if not result.success:
        raise RunFailed(failure_reason(result))
    return result


def run_pipeline(
    config: PipelineConfig,
    partition_range: tuple[str, str],
    echo: Callable[[str], None] = print,
    progress: StageProgress | None = None,
    debug: bool = False,
) -> PipelineResult:
    """Every stage over the range (config.data's), as the runs of `plan`. Raises RunFailed."""
    from portfolio_dagster.definitions import build_definitions
    from portfolio_dagster.instance import free_slots_of_dead_runs, get_instance
    from portfolio_dagster.resources.warehouse import Warehouse

    defs = build_definitions(paths.config_path(), paths.warehouse_path(), paths.home())
    job = defs.resolve_implicit_global_asset_job_def()
    instance = get_instance()
    freed = free_slots_of_dead_runs(instance)
    if freed:
        echo(f"pmx: cleaned up {len(freed)} dead run(s): marked failed, warehouse pool slots freed")
    phases = plan(config, partition_range)
    if any(p.job is not None for p in phases):
        prestart_forkserver(debug)
    first, last = partition_range
    echo(
        f"pmx: {sum(len(p.assets) for p in phases)} stage runs in {len(phases)} Dagster runs over "
        f"{first}..{last}; warehouse {paths.warehouse_path()}"
    )
    outcome = PipelineResult()
    progress = progress or StageProgress(enabled=False, echo=echo)
    # One publication of the warehouse users read, when the whole pipeline has run (or failed).
    with Warehouse(path=str(paths.warehouse_path())).unit_of_work():
        for phase in phases:
            names = [a.key.to_user_string() for a in phase.assets]
            progress.start_phase(phase.label, names, phase.partitions)
            t0 = time.monotonic()
            result = execute(
                phase.job or job,
                instance,
                asset_keys=[a.key for a in phase.assets],
                partition_range=phase.partition_range,
                debug=debug,
                on_event=progress.on_event,
            )
            outcome.run_ids.append(result.run_id)
            outcome.run_wall_s[result.run_id] = time.monotonic() - t0
            progress.end_phase(result.success)
            warned, checks = warnings_of(instance, result.run_id, names)
            outcome.checks += checks
            if not result.success:  # one line names the stage and the cause; skipped steps say nothing new
                raise RunFailed(failure_reason(result))
            for line in warned:
                echo(f"pmx: warning: {line}")
            outcome.stages += [
                t for t in stage_timings(instance, result, phase.partitions) if t.stage in names
            ]
    return outcome
