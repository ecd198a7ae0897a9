"""Orchestration cost (issue 13): the default `pmx run`, a daily session, a one-year backfill, and the
daily session's cost at 30 vs 5 years of history.

Run: .venv/bin/python -m benchmarks.bench_pipeline [--home DIR] [--reuse]
     [--skip default,session,backfill,ratio]

1. default `pmx run` (full bundled sample, 20 tickers) in a fresh data folder, as a subprocess: wall time,
   peak RSS, and per stage the compute seconds (STEP_START..STEP_OUTPUT: the asset's function) and the
   orchestration seconds (the rest of its step: Dagster's events, checks' inputs), from the runs' events;
   per Dagster run its overhead outside the steps (run creation, planned events, start-up of the run).
2. a daily session without retraining: the daily schedule's RunRequest for the last sample day executed
   in-process against the persistent instance (pipeline_execution.execute_run_request, as `pmx replay`);
   median of --sessions repeats after one warm-up.
3. a one-year backfill of the daily stages (the last sample year), twice: as the history twins (one
   yearly partition per stage, what `pmx run` uses) and as the daily assets (one run over the year's
   daily partitions, what a UI backfill of the daily assets does).
4. the daily session at 33 years of history (1990-2022) over the same at 8 years (a second data folder
   loaded with `pmx run --start 2015-01-02`; 5 years are too few for the default config to train the
   2022 model set, so every session there would retrain).
Targets (issue 13, 2-core machine): default run <= 150 s wall, orchestration <= 30 % of wall, peak RSS
<= 2 GiB; daily session <= 8 s; one-year backfill <= 40 s; ratio 30 y / 5 y <= 1.2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

LAST_DAY = dt.date(2022, 12, 28)
# The short history: the shortest start from which the default config trains the 2022 model set
# (min_train_days 1000 + validation 252 + feature warm-up); with 5 years (2018) no model exists and each
# session would retrain.
SHORT_START = dt.date(2015, 1, 2)


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ) | {"PMX_HOME": str(home)}
    for var in ("PMX_CONFIG", "PMX_WAREHOUSE", "DAGSTER_HOME"):
        env.pop(var, None)
    return env


def _pmx_run(home: Path, *args: str) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "portfolio_dagster.cli", "run", *args],
        env=_env(home),
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"pmx run {' '.join(args)} failed ({proc.returncode})")
    return wall, proc.stderr


def _use_home(home: Path) -> None:
    """Point this process at a data folder (as `pmx` does after a run: its effective config)."""
    os.environ["PMX_HOME"] = str(home)
    os.environ["PMX_CONFIG"] = str(home / "config.effective.yaml")
    os.environ.pop("PMX_WAREHOUSE", None)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")


def _run_breakdown(home: Path) -> tuple[list[tuple], list[tuple]]:
    """(per stage: name, partitions, compute s, orchestration s; per run: label, wall s, overhead s)
    from every run in the data folder's instance."""
    import dagster as dg

    _use_home(home)
    instance = dg.DagsterInstance.get()
    stages, runs = [], []
    records = sorted(instance.get_run_records(), key=lambda r: r.create_timestamp.timestamp())
    for record in records:
        run = record.dagster_run
        times: dict[tuple[str, str], float] = {}
        first = last = None
        mats: dict[str, int] = {}
        for rec in instance.get_records_for_run(run.run_id, limit=1_000_000).records:
            entry = rec.event_log_entry
            event = entry.dagster_event
            if event is None:
                continue
            first = entry.timestamp if first is None else min(first, entry.timestamp)
            last = entry.timestamp if last is None else max(last, entry.timestamp)
            kind = event.event_type_value
            if kind in ("STEP_START", "STEP_OUTPUT", "STEP_SUCCESS", "STEP_FAILURE"):
                times.setdefault((event.step_key, kind), entry.timestamp)
            elif kind == "ASSET_MATERIALIZATION":
                mats[event.step_key] = mats.get(event.step_key, 0) + 1
        in_steps = 0.0
        for (step, kind), start in sorted(times.items(), key=lambda kv: kv[1]):
            if kind != "STEP_START":
                continue
            end = times.get((step, "STEP_SUCCESS"), times.get((step, "STEP_FAILURE"), start))
            compute = times.get((step, "STEP_OUTPUT"), end) - start
            in_steps += end - start
            stages.append((step, mats.get(step, 0), compute, end - start - compute))
        wall = (last - first) if first is not None else 0.0
        label = ",".join(k.to_user_string() for k in sorted(run.asset_selection or []))[:60]
        runs.append((label, wall, wall - in_steps))
    return stages, runs


def bench_default(home: Path) -> None:
    wall, stderr = _pmx_run(home)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stages, runs = _run_breakdown(home)
    print(f"{'stage':<34} {'partitions':>10} {'compute s':>10} {'orchestration s':>16}")
    for name, parts, compute, orch in stages:
        print(f"{name:<34} {parts:>10} {compute:>10.1f} {orch:>16.1f}")
    print(f"\n{'Dagster run (assets)':<62} {'wall s':>7} {'outside steps s':>16}")
    for label, run_wall, overhead in runs:
        print(f"{label:<62} {run_wall:>7.1f} {overhead:>16.1f}")
    compute = sum(s[2] for s in stages)
    print(
        f"\ndefault pmx run: wall {wall:.1f} s, compute {compute:.1f} s, orchestration and start-up "
        f"{wall - compute:.1f} s ({(wall - compute) / wall:.0%} of wall), peak RSS {peak_mib:.0f} MiB; "
        f"{len(runs)} Dagster runs (targets: <= 150 s, <= 30 %, <= 2048 MiB)"
    )
    noise = [line for line in stderr.splitlines() if line.strip()]
    print(f"stderr lines on the default run: {len(noise)}" + (f" (first: {noise[0][:120]})" if noise else ""))


def _daily_sessions(home: Path, repeats: int) -> list[float]:
    """Seconds per daily session (the schedule's RunRequest for LAST_DAY and the sessions before it)."""
    from portfolio_dagster import paths
    from portfolio_dagster.config import load_config
    from portfolio_dagster.definitions import build_definitions
    from portfolio_dagster.instance import get_instance
    from portfolio_dagster.pipeline_execution import execute_run_request
    from portfolio_dagster.quant.calendar import sessions
    from portfolio_dagster.resources.warehouse import Warehouse
    from portfolio_dagster.schedules.daily import daily_run_request

    _use_home(home)
    cfg = load_config(paths.config_path())
    defs = build_definitions(paths.config_path(), paths.warehouse_path(), paths.home())
    job = defs.resolve_job_def("daily_job")
    instance = get_instance()
    warehouse = Warehouse(path=str(paths.warehouse_path()))
    days = [
        d.date()
        for d in sessions(LAST_DAY - dt.timedelta(days=3 * repeats + 10), LAST_DAY + dt.timedelta(days=1))
    ][-(repeats + 1) :]
    took = []
    for day in days:
        request = daily_run_request(cfg, warehouse, day)
        assert request.tags.get("pmx/retrain_due") == "false", f"{day}: a retrain is due"
        t0 = time.monotonic()
        execute_run_request(job, request, instance)
        took.append(time.monotonic() - t0)
    return took[1:]  # the first one warms caches (imports, HMM fits)


def bench_session(home: Path, repeats: int) -> float:
    took = _daily_sessions(home, repeats)
    median = statistics.median(took)
    print(
        f"daily session (schedule RunRequest, no retraining, in-process): median {median:.2f} s over "
        f"{len(took)} sessions ({', '.join(f'{t:.2f}' for t in took)}) (targets: <= 5 s at 20 names, "
        "<= 10 s at 500)"
    )
    return median


def bench_backfill(home: Path) -> None:
    from portfolio_dagster import paths
    from portfolio_dagster.assets.all import ALL_ASSETS, HISTORY_OF
    from portfolio_dagster.config import load_config
    from portfolio_dagster.definitions import build_definitions
    from portfolio_dagster.instance import get_instance
    from portfolio_dagster.jobs.pipeline import daily_selection
    from portfolio_dagster.pipeline_execution import execute

    _use_home(home)
    defs = build_definitions(paths.config_path(), paths.warehouse_path(), paths.home())
    job = defs.resolve_implicit_global_asset_job_def()
    instance = get_instance()
    daily = [
        k
        for k in daily_selection(load_config(paths.config_path())).resolve(list(ALL_ASSETS))
        if k in HISTORY_OF
    ]
    year = str(LAST_DAY.year)
    t0 = time.monotonic()
    result = execute(job, instance, asset_keys=[HISTORY_OF[k] for k in daily], partition_range=(year, year))
    twins = time.monotonic() - t0
    assert result.success
    print(
        f"one-year backfill {year}, daily stages as history twins (1 yearly partition x {len(daily)} stages, "
        f"one run): {twins:.1f} s (target: <= 40 s)"
    )
    t0 = time.monotonic()
    result = execute(job, instance, asset_keys=daily, partition_range=(f"{year}-01-03", LAST_DAY.isoformat()))
    days = time.monotonic() - t0
    assert result.success
    print(
        f"one-year backfill {year}, daily assets (their ~250 daily partitions x {len(daily)} stages, one "
        "run): "
        f"{days:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--home", type=Path, default=None, help="parent folder of the data folders (default: temp)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="the data folders under --home are already loaded"
    )
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated: default,session,backfill,ratio")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    warnings.filterwarnings("ignore", module="dagster")
    root = (args.home or Path(tempfile.mkdtemp(prefix="pmx_bench_pipeline_"))).resolve()
    full, short = root / "full", root / "short_history"
    print(
        f"data folders under {root}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if "default" not in skip and not args.reuse:
        bench_default(full)
    session_30 = bench_session(full, args.sessions) if "session" not in skip else None
    if "backfill" not in skip:
        bench_backfill(full)
    if "ratio" not in skip:
        if not args.reuse:
            wall, _ = _pmx_run(short, "--start", SHORT_START.isoformat())
            print(f"setup: pmx run {SHORT_START}..{LAST_DAY} {wall:.1f} s")
        session_5 = bench_session(short, args.sessions)
        session_30 = session_30 if session_30 is not None else bench_session(full, args.sessions)
        print(
            f"daily session at 33 years / at {LAST_DAY.year - SHORT_START.year + 1} years of history: "
            f"{session_30 / session_5:.2f} (target: 30 y / 5 y <= 1.2)"
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
