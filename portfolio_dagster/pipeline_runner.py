"""Materialize the graph as real Dagster runs in the persistent instance, with a progress display.

`pmx run` over a range: the history through the yearly `<stage>_history` twins (assets/history.py),
then the range's last week through the daily assets (their checks, the UI's daily status), in six
runs: market history, market days, models, decision history, decision days, evaluation. Each Dagster
partition costs events in the instance's event log (5-60 ms each on SQLite here), so a 33-year load
as daily partitions would spend minutes on bookkeeping; as years it records ~33 per stage.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from portfolio_dagster import paths
from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.partitions import first_daily_session, weekday_keys
from portfolio_dagster.pipeline_progress import StageProgress

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Dagster's console logger prints every event (thousands per backfill) and a stack trace per failed
# step; the progress display and one-line errors replace it. `--debug` restores it (DEBUG_RUN_CONFIG).
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
DEBUG_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
HEADLINE = ("annual_return", "annual_volatility", "sharpe", "max_drawdown")
# One ASSET_MATERIALIZATION_PLANNED event per asset and run instead of one per partition (Dagster reads
# this variable when it creates a run). Trade-off, per Dagster: partitions of a failed ranged run show
# as missing, not failed, in the UI (pmx prints the failure). Set it to 0 to keep per-partition events.
PLANNED_EVENTS_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
# Tag of a run Dagster creates with an id of its own (the multiprocess runs): how pmx finds it.
LAUNCH_TAG = "pmx/launch"
# Events the progress display and the stage timings read.
_STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_OUTPUT,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
}


class RunFailed(Exception):
    """A Dagster run failed; the message is the failing stage and its cause in one line."""


@dataclass(frozen=True)
class Phase:
    """One Dagster run: assets of one partitioning over one key range (None: unpartitioned). `job`:
    a named job of the definitions whose steps run on the multiprocess executor (the models stage's
    training steps at once); None: the global asset job, in this process."""

    label: str
    assets: tuple[dg.AssetsDefinition, ...]
    partition_range: tuple[str, str] | None = None
    partitions: int = 1  # partitions per asset, for the progress display
    job: str | None = None


@dataclass
class StageTiming:
    """Seconds of one stage (asset step) from its run's events: compute is STEP_START..STEP_OUTPUT
    (the asset's function), bookkeeping the rest of the step (materialization events, checks' inputs)."""

    stage: str
    run_id: str
    partitions: int
    compute_s: float
    step_s: float
    rows: str = ""


@dataclass
class PipelineResult:
    run_ids: list[str] = field(default_factory=list)
    stages: list[StageTiming] = field(default_factory=list)
    run_wall_s: dict[str, float] = field(default_factory=dict)  # run id -> wall seconds
    checks: list[tuple[str, bool]] = field(default_factory=list)  # (check name, passed)


# ---------------------------------------------------------------------------------------------
# failure reasons


_CLASS_PREFIX = re.compile(r"^(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Failure|Violation|Interrupt)\w*: ")


def _clean(message: str) -> str:
    """First line of an error message without Python class names (`dagster._core...Failure: `)."""
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    while _CLASS_PREFIX.match(text):
        text = _CLASS_PREFIX.sub("", text, count=1)
    return text


def stage_of_step(step_key: str | None) -> str:
    """The stage (asset) of a step: `models.train_models[h21]` (a graph-backed asset's op) -> `models`."""
    return (step_key or "run").split("[")[0].split(".")[0]


def failure_reason(result: dg.ExecuteInProcessResult) -> str:
    """`<stage>: <cause>` for the first failed step (the innermost cause, one line, no class names),
    or the failed blocking check."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            # Dagster wraps a user exception ("Error occurred while executing op"): the innermost cause is it.
            while error.cause is not None:
                error = error.cause
            return f"{stage_of_step(event.step_key)}: {_clean(error.message) or error.cls_name}"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                return f"check {evaluation.check_name} failed on {evaluation.asset_key.to_user_string()}"
    return "run failed"


# ---------------------------------------------------------------------------------------------
# the plan of `pmx run`


def _day(key: str) -> dt.date:
    return dt.date.fromisoformat(key)


def _weekdays(first: dt.date, last: dt.date) -> int:
    return int(pd.bdate_range(first, last).size) if first <= last else 0


def source_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS

    return [RAW_PRICE_ASSETS[s] for s in config.data.sources]


def stages(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    """Every daily and unpartitioned stage of `pmx run`, in pipeline order."""
    from portfolio_dagster.assets.all import PIPELINE

    return source_assets(config) + list(PIPELINE)


def plan(config: PipelineConfig, partition_range: tuple[str, str]) -> list[Phase]:
    """The runs of `pmx run` over [first, last] (daily partition keys of config.data's range): per phase
    of RUN_PHASES (the stages' phase tags), the daily stages' history through their yearly twins and the
    last days as daily partitions, or one run of its unpartitioned stages."""
    from portfolio_dagster.assets.stage import BACKTEST_PHASES, MODELS, RUN_PHASES, by_phase, twin_of
    from portfolio_dagster.jobs.pipeline import retrain_job

    grouped = by_phase(stages(config))
    unknown = sorted(set(grouped) - set(RUN_PHASES))
    if unknown:  # assets/all.py refuses this at import; a plan must never skip a stage silently
        raise RunFailed(f"stages outside `pmx run`'s phases: {', '.join(unknown)}")
    first, last = _day(partition_range[0]), _day(partition_range[1])
    # Daily partitions for the range's last week (where the definitions' daily partitions begin);
    # everything before through the twins.
    days_first = first_daily_session(first, last)
    decisions_first = max(first, weekday_keys(config.backtest.start, last)[0])
    phases = []

    def add(label: str, assets: list[dg.AssetsDefinition], lo: dt.date, hi: dt.date) -> None:
        if lo > hi:
            return
        if lo < days_first:  # history: whole calendar years; each twin clips them to the config's range
            hist_hi = min(hi, days_first - dt.timedelta(days=1))
            phases.append(
                Phase(
                    f"{label} history",
                    tuple(twin_of(a) for a in assets),
                    (str(lo.year), str(hist_hi.year)),
                    hist_hi.year - lo.year + 1,
                )
            )
        lo_days = max(lo, days_first)
        phases.append(
            Phase(
                f"{label} days", tuple(assets), (lo_days.isoformat(), hi.isoformat()), _weekdays(lo_days, hi)
            )
        )

    for phase in RUN_PHASES:
        assets = grouped.get(phase, [])
        if assets and all(a.partitions_def is not None for a in assets):
            add(phase, assets, decisions_first if phase in BACKTEST_PHASES else first, last)
        elif assets:
            # The models stage's steps (a training step per horizon) run at once: retrain_job (phase
            # models) on the multiprocess executor.
            phases.append(Phase(phase, tuple(assets), job=retrain_job.name if phase == MODELS else None))
    return phases


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
            conn = instance.get_records_for_run(run_id, cursor=cursor, of_type=_STEP_EVENTS, limit=5000)
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


def _forkserver_env_current() -> bool:
    """True if a multiprocess run started now gets this process's environment in its steps: no run
    started the forkserver yet, or the variables that shape a step (PMX_DAGSTER_POSTGRES_URL: the
    instance the step writes its events to; secrets a step reads) are unchanged since. False only where
    one process runs pmx for several environments (tests): such a run goes in-process instead."""
    global _forkserver_env
    env = {k: v for k, v in os.environ.items() if k.startswith("PMX_") and k not in _PATH_VARIABLES}
    if _forkserver_env is None:
        _forkserver_env = env
    return env == _forkserver_env


def _definitions_at_paths() -> dg.Definitions:
    from portfolio_dagster.definitions import build_definitions

    return build_definitions(paths.config_path(), paths.warehouse_path(), paths.home())


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

            if not debug:
                # The forkserver is a new interpreter: Dagster's beta/preview notices on our definitions,
                # which this process silences (silence_library_notices), would print once per import.
                os.environ.setdefault("PYTHONWARNINGS", "ignore")

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


def _event_times(instance: dg.DagsterInstance, run_id: str) -> dict[tuple[str, str], float]:
    """(step key, event type) -> timestamp of its STEP_START/OUTPUT/SUCCESS/FAILURE events (DagsterEvents
    in the result carry no timestamps; the stored entries do)."""
    times = {}
    conn = instance.get_records_for_run(
        run_id, of_type=_STEP_EVENTS - {dg.DagsterEventType.ASSET_MATERIALIZATION}, limit=100000
    )
    for record in conn.records:
        entry = record.event_log_entry
        event = entry.dagster_event
        times[(event.step_key, event.event_type_value)] = entry.timestamp
    return times


def stage_timings(
    instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, partitions: int
) -> list[StageTiming]:
    """Per stage of a finished run, from the instance's stored events: compute (its first STEP_START
    to its last STEP_OUTPUT: the asset's function) and step seconds (to its last STEP_SUCCESS/FAILURE).
    A graph-backed stage (models: several steps, some at once) is timed from its first step's start
    to its last step's end."""
    times = _event_times(instance, result.run_id)
    rows = {}
    for event in result.get_asset_materialization_events():
        stage = stage_of_step(event.step_key)
        if stage not in rows:
            meta = event.materialization.metadata
            rows[stage] = next(
                (f"{name}={meta[name].value}" for name in ("rows", "trained") if name in meta), ""
            )
    spans: dict[str, list[float]] = {}  # stage -> [start, output, end]
    for (step, kind), start in times.items():
        if kind != "STEP_START":
            continue
        end = times.get((step, "STEP_SUCCESS"), times.get((step, "STEP_FAILURE"), start))
        output = times.get((step, "STEP_OUTPUT"), end)
        span = spans.setdefault(stage_of_step(step), [start, output, end])
        spans[stage_of_step(step)] = [min(span[0], start), max(span[1], output), max(span[2], end)]
    out = [
        StageTiming(
            stage=stage,
            run_id=result.run_id,
            partitions=partitions,
            compute_s=output - start,
            step_s=end - start,
            rows=rows.get(stage, ""),
        )
        for stage, (start, output, end) in spans.items()
    ]
    return sorted(out, key=lambda t: spans[t.stage][0])


def warnings_of(
    instance: dg.DagsterInstance, run_id: str, stages: Sequence[str]
) -> tuple[list[str], list[tuple[str, bool]]]:
    """(warnings the stages' own code logged, one line each, e.g. a live source falling back; (check
    name, passed) of the run's asset checks, whose findings and alerts are in the UI and `alerts`)."""
    lines, checks = [], []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None and entry.level >= 30 and stage_of_step(entry.step_key) in stages:  # log.warning
            lines.append(f"{stage_of_step(entry.step_key)}: {_clean(entry.user_message)}")
        elif event is not None and event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            checks.append((evaluation.check_name, bool(evaluation.passed)))
    return lines, checks


def checks_line(checks: Sequence[tuple[str, bool]]) -> str:
    """One line for the checks of a run: they are in the UI with their evidence."""
    failed = sorted({name for name, ok in checks if not ok})
    text = f"checks: {len(checks) - len(failed)} of {len(checks)} passed"
    return text + (f"; not passed (non-blocking, details in `pmx ui`): {', '.join(failed)}" if failed else "")


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


def latest_summary() -> tuple[str | None, str | None, str]:
    """(headline table, latest allocation, report path) as text; None when nothing has run."""
    from portfolio_dagster.assets.report import REPORT_FILE
    from portfolio_dagster.resources.warehouse import Warehouse

    report_path = paths.home() / "reports" / REPORT_FILE
    if not paths.warehouse_path().exists():
        return None, None, str(report_path)
    warehouse = Warehouse(path=str(paths.warehouse_path()))
    summary = warehouse.query("SELECT * FROM backtest_summary")
    if summary.empty:
        return None, None, str(report_path)
    table = summary.pivot(index="strategy", columns="metric", values="value")
    from portfolio_dagster.quant.evaluation import STRATEGIES
    from portfolio_dagster.quant.report import product_of
    from portfolio_dagster.quant.report.verdict import ablation_verdict, ml_verdict, mode_choice

    value = summary.set_index(["strategy", "metric"])["value"]

    def get(metric, strategy="ml_barbell"):
        return float(value.get((strategy, metric), float("nan")))

    product = product_of(summary)
    verdict = "\n".join([ml_verdict(get), *ablation_verdict(get), mode_choice(get, product)])
    order = ([product] if product in table.index else []) + [s for s in STRATEGIES if s != product]
    table = table.reindex(index=[s for s in order if s in table.index], columns=list(HEADLINE))
    table.index = [f"{s} (product)" if s == product else s for s in table.index]
    latest = warehouse.query(
        "SELECT date, ticker, weight, sleeve, reasons FROM latest_allocations ORDER BY sleeve, weight DESC"
    )
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 120):
        head = f"{table.to_string()}\n{verdict}"
        alloc = (
            f"latest allocation ({latest['date'].iat[0]}):\n{latest.to_string(index=False)}"
            if len(latest)
            else None
        )
    return head, alloc, str(report_path)


def silence_library_notices() -> None:
    """Hide notices a user cannot act on (Dagster's beta/preview/supersession warnings on our own
    definitions); `--debug` keeps them."""
    import warnings

    for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
        warnings.filterwarnings("ignore", category=category)
