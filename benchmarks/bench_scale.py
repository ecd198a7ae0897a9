"""Cost against breadth (issue 22): the default `pmx run --source csv` on a SYNTHETIC universe
(benchmarks/synthetic_universe.py: N names x Y years, a market factor and a planted per-name drift) at
20, 100 and 500 names; wall, CPU and peak RSS of the whole run and per stage; then a daily session
(`pmx replay`'s unit: the schedule's RunRequest, no retraining) in its own process.

Run: .venv/bin/python -m benchmarks.bench_scale [--names 20,100,500 --years 20 --home DIR --sessions 2]

`pmx run` executes in one process (execute_in_process), so a sampler reading /proc/<pid> every
SAMPLE_SECONDS gives its RSS and CPU over time; each stage's figures are those samples inside its step's
STEP_START..STEP_SUCCESS (from the run's Dagster events). Per-stage peak RSS is the process's resident
size while the stage ran (it includes what earlier stages left allocated). Run one size at a time: at 500
names the run needs several GiB on a machine shared with others.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.bench_pipeline import _env, _run_breakdown, _use_home
from benchmarks.synthetic_universe import write_csv

SAMPLE_SECONDS = 0.2
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class Sampler(threading.Thread):
    """(time, RSS bytes, CPU seconds) of one process every SAMPLE_SECONDS until it exits."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples = pid, []

    def run(self) -> None:
        while True:
            try:
                stat = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
                rss = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1]) * PAGE
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                return
            if stat[0] == "Z":
                return
            self.samples.append((time.time(), rss, (int(stat[11]) + int(stat[12])) / TICKS))
            time.sleep(SAMPLE_SECONDS)


def pmx_run(home: Path, csv: Path) -> tuple[float, float, Sampler]:
    """(wall s, CPU s of the whole process, its samples) of `pmx run --source csv`."""
    started = time.monotonic()
    before = os.times()
    proc = subprocess.Popen(
        [sys.executable, "-m", "portfolio_dagster.cli", "run", "--source", "csv", "--csv", str(csv)],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = Sampler(proc.pid)
    sampler.start()
    out, err = proc.communicate()
    wall = time.monotonic() - started
    after = os.times()
    sampler.join(timeout=2)
    if proc.returncode != 0:
        print(out[-3000:], err[-3000:], file=sys.stderr)
        raise SystemExit(f"pmx run on {csv} failed ({proc.returncode})")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, sampler


def step_windows(home: Path) -> list[tuple[str, float, float]]:
    """(step, start, end) epoch seconds of every step of every run in the data folder's instance."""
    import dagster as dg

    _use_home(home)
    instance = dg.DagsterInstance.get()
    windows = []
    for record in instance.get_run_records():
        seen: dict[tuple[str, str], float] = {}
        for rec in instance.get_records_for_run(record.dagster_run.run_id, limit=1_000_000).records:
            event = rec.event_log_entry.dagster_event
            if event is not None and event.event_type_value in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
                seen.setdefault((event.step_key, event.event_type_value), rec.event_log_entry.timestamp)
        for (step, kind), start in seen.items():
            if kind == "STEP_START":
                end = seen.get((step, "STEP_SUCCESS"), seen.get((step, "STEP_FAILURE"), start))
                windows.append((step, start, end))
    return sorted(windows, key=lambda w: w[1])


def per_stage(home: Path, samples: list[tuple[float, int, float]]) -> list[tuple[str, float, float, float]]:
    """(stage, wall s, CPU s, peak RSS GiB) per step, from the samples inside its window."""
    rows = []
    for step, start, end in step_windows(home):
        inside = [s for s in samples if start <= s[0] <= end] or [
            min(samples, key=lambda s: abs(s[0] - start))
        ]
        before = [s for s in samples if s[0] <= start] or samples[:1]
        cpu = inside[-1][2] - before[-1][2]
        rows.append((step, end - start, cpu, max(s[1] for s in inside) / 2**30))
    return rows


def daily_session(home: Path, sessions: int) -> str:
    """bench_pipeline's daily session against this data folder, in its own process (its own memory)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench_pipeline",
            "--home",
            str(home.parent),
            "--reuse",
            "--skip",
            "default,backfill,ratio",
            "--sessions",
            str(sessions),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("daily session")]
    return lines[0] if lines else f"daily session failed: {proc.stderr.strip().splitlines()[-1:]}"


def bench(names: int, years: int, root: Path, sessions: int) -> None:
    folder = root / f"names_{names}"
    home = folder / "full"  # the name bench_pipeline's --reuse reads
    csv = folder / "universe.csv"
    rows = write_csv(csv, names, years)
    wall, cpu, sampler = pmx_run(home, csv)
    peak = max(s[1] for s in sampler.samples) / 2**30
    size = (home / "warehouse.duckdb").stat().st_size / 2**20
    print(
        f"\n{names} names x {years} y (SYNTHETIC, {rows} CSV rows): pmx run wall {wall:.0f} s, "
        f"CPU {cpu:.0f} s, peak RSS {peak:.2f} GiB, warehouse {size:.0f} MiB"
    )
    print(f"  {'stage':<34} {'wall s':>8} {'CPU s':>8} {'peak RSS GiB':>13}")
    for step, s_wall, s_cpu, s_rss in per_stage(home, sampler.samples):
        if s_wall >= 0.5:
            print(f"  {step:<34} {s_wall:>8.1f} {s_cpu:>8.1f} {s_rss:>13.2f}")
    _, runs = _run_breakdown(home)
    print(f"  Dagster runs: {len(runs)}")
    if sessions:
        print("  " + daily_session(home, sessions), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", default="20,100,500", help="comma-separated universe sizes")
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--home", type=Path, default=None, help="parent of the data folders (default: temp)")
    parser.add_argument("--sessions", type=int, default=2, help="daily sessions to time (0: none)")
    args = parser.parse_args()
    root = (args.home or Path(tempfile.mkdtemp(prefix="pmx_bench_scale_"))).resolve()
    print(
        f"data folders under {root}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    for n in (int(x) for x in args.names.split(",")):
        bench(n, args.years, root, args.sessions)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
