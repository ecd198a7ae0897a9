"""The results of `pmx run`'s Dagster runs, read back: one-line failure reasons, per-stage timings,
the stages' warnings and the checks' outcome, the latest backtest summary, and quieting the library."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from portfolio_dagster import paths

HEADLINE = ("annual_return", "annual_volatility", "sharpe", "max_drawdown")
# Events the progress display and the stage timings read.
STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_OUTPUT,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
}


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
    """What run_pipeline returns: its runs, the stages' timings, each run's wall time, the checks."""

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


def _event_times(instance: dg.DagsterInstance, run_id: str) -> dict[tuple[str, str], float]:
    """(step key, event type) -> timestamp of its STEP_START/OUTPUT/SUCCESS/FAILURE events (DagsterEvents
    in the result carry no timestamps; the stored entries do)."""
    times = {}
    conn = instance.get_records_for_run(
        run_id, of_type=STEP_EVENTS - {dg.DagsterEventType.ASSET_MATERIALIZATION}, limit=100000
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
