"""The progress display of `pmx run`, `pmx replay` and backfills: a bar per stage (partitions done,
elapsed, ETA) fed by the run's events, and the closing table of stage timings.

On a terminal the bars are live (rich); otherwise (CI, pipes, tests) each stage prints one line when
it ends. Events arrive from a watcher thread (pipeline_execution._watch).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

# Seconds each stage took last time (per data folder): the ETA of a stage whose partitions are all
# recorded at its end (Dagster writes them after the asset's function returns).
STAGE_SECONDS_FILE = "stage_seconds.json"


class _EtaColumn(ProgressColumn):
    """Remaining time: from the stage's last duration (scaled by its partitions) while it runs, else
    rich's estimate from the partitions recorded so far."""

    def render(self, task: Task) -> Text:
        expected = task.fields.get("expected")
        if task.finished:
            return Text("0:00:00", style="progress.remaining")
        if expected and task.started and task.elapsed is not None:
            left = max(0.0, expected - task.elapsed)
            return Text(
                f"~{int(left) // 3600}:{int(left) % 3600 // 60:02d}:{int(left) % 60:02d}",
                style="progress.remaining",
            )
        return TimeRemainingColumn().render(task)


class StageProgress:
    def __init__(
        self,
        enabled: bool | None = None,
        echo: Callable[[str], None] = print,
        console: Console | None = None,
        keep_finished: bool = True,
    ):
        """enabled: live bars (default: when the console is a terminal); keep_finished False (`pmx
        replay`: a run per session) drops each run's bars when it ends and prints no per-stage lines."""
        self.console = console or Console()
        self.live = self.console.is_terminal if enabled is None else enabled
        self.echo = echo
        self.keep_finished = keep_finished
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._started: dict[str, float] = {}
        self._running: dict[str, set[str]] = {}  # stage -> its steps started and not ended
        self._done: dict[str, int] = {}
        self._totals: dict[str, int] = {}
        self._phase = ""
        self._progress: Progress | None = None
        if self.live:
            self._progress = Progress(
                TextColumn("{task.description:<34}"),
                BarColumn(bar_width=28),
                MofNCompleteColumn(),
                TextColumn("{task.fields[unit]:<10}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                _EtaColumn(),
                TextColumn("{task.fields[status]}"),
                console=self.console,
            )
            self._progress.start()

    # -- phases (one Dagster run each) ----------------------------------------------------------

    def expect(self, seconds: dict[str, tuple[float, int]]) -> None:
        """Last durations per stage: {stage: (seconds, partitions)} (see load_stage_seconds)."""
        self._expected = dict(seconds)

    def start_phase(self, label: str, stages: Sequence[str], partitions: int) -> None:
        with self._lock:
            self._phase = label
            unit = "years" if "history" in label else "partitions"
            for stage in stages:
                self._totals[stage] = partitions
                self._done[stage] = 0
                if self._progress is not None:
                    last = getattr(self, "_expected", {}).get(stage)
                    expected = last[0] * max(1.0, partitions / max(1, last[1])) if last else None
                    self._tasks[stage] = self._progress.add_task(
                        stage, total=partitions, start=False, unit=unit, status="waiting", expected=expected
                    )

    def end_phase(self, success: bool) -> None:
        with self._lock:
            if self._progress is not None:
                for stage, task in self._tasks.items():
                    if not self.keep_finished:
                        self._progress.remove_task(task)
                    elif stage not in self._started and not success:
                        self._progress.update(task, status="skipped")
            self._tasks.clear()
            self._started.clear()
            self._running.clear()

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # -- events ------------------------------------------------------------------------------------

    def on_event(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        kind = event.event_type_value
        stage = (
            event.asset_key.to_user_string()
            if kind == "ASSET_MATERIALIZATION" and event.asset_key
            else (event.step_key or "").split("[")[0].split(".")[0]  # a graph-backed stage's op: its stage
        )
        with self._lock:
            if stage not in self._totals:
                return  # a check's step
            task = self._tasks.get(stage)
            running = self._running.setdefault(stage, set())
            if kind == "STEP_START":
                running.add(event.step_key)
                if stage in self._started:
                    return  # another step of a stage of several steps (models: one per horizon)
                self._started[stage] = entry.timestamp
                if task is not None:
                    self._progress.start_task(task)
                    self._progress.update(task, status="running")
            elif kind == "ASSET_MATERIALIZATION":
                self._done[stage] += 1
                if task is not None:
                    self._progress.update(task, completed=self._done[stage], status="recording")
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
                ok = kind == "STEP_SUCCESS"
                running.discard(event.step_key)
                if ok and (running or not self._done[stage]):
                    return  # the stage goes on: steps still running, or its materialization to come
                took = entry.timestamp - self._started.get(stage, entry.timestamp)
                if task is not None:
                    self._progress.update(
                        task,
                        completed=self._totals[stage] if ok else self._done[stage],
                        status="[green]ok[/]" if ok else "[red]FAILED[/]",
                    )
                    self._progress.stop_task(task)
                elif self.keep_finished:
                    self.echo(
                        f"  {stage:<34} {'ok' if ok else 'FAILED':<6} {self._done[stage]:>5}/"
                        f"{self._totals[stage]:<5} {took:7.1f} s"
                    )

    # -- closing table ---------------------------------------------------------------------------

    def summary(self, timings: Sequence, wall_s: float) -> None:
        """The stages' compute and bookkeeping seconds (the rest of each step: Dagster's events)."""
        self.stop()
        table = Table(title=f"stages (wall {wall_s:.0f} s)", title_justify="left")
        table.add_column("stage", no_wrap=True, min_width=27)
        for col in ("partitions", "compute s", "bookkeeping s"):
            table.add_column(col, justify="right")
        table.add_column("output", no_wrap=True)
        for t in timings:
            table.add_row(
                t.stage, str(t.partitions), f"{t.compute_s:.1f}", f"{t.step_s - t.compute_s:.1f}", t.rows
            )
        compute = sum(t.compute_s for t in timings)
        table.add_row(
            "total (bookkeeping: all but compute)", "", f"{compute:.1f}", f"{wall_s - compute:.1f}", ""
        )
        self.console.print(table)


def load_stage_seconds(home: Path) -> dict[str, tuple[float, int]]:
    path = home / STAGE_SECONDS_FILE
    try:
        return {k: (float(v[0]), int(v[1])) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, TypeError, IndexError):
        return {}


def save_stage_seconds(home: Path, timings: Sequence) -> None:
    known = load_stage_seconds(home)
    known.update({t.stage: (round(t.step_s, 2), t.partitions) for t in timings})
    (home / STAGE_SECONDS_FILE).write_text(json.dumps(known, indent=0, sort_keys=True))
