"""Operations timings: a daily run (20 tickers, no retraining), a weekly retrain, and a 10-year
backfill of the daily stages sequential (in-process) vs the multiprocess executor with 2 workers.

Run: .venv/bin/python -m benchmarks.bench_ops [--home DIR]
Setup (timed too): `pmx run` over 2012-2022 on the bundled sample (20 tickers) into a fresh home.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

# Dagster's beta/preview notices on every definition load drown the figures.
warnings.filterwarnings("ignore", module="dagster")

DATA_START, DATA_END = "2012-01-03", "2022-12-28"
LAST_DAY = DATA_END
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def daily_job():
    """The daily job over the project's definitions (reconstructable for the multiprocess executor)."""
    from portfolio_dagster.definitions import defs

    return defs.resolve_job_def("daily_job")


def _timed(label: str, fn) -> float:
    t0 = time.monotonic()
    fn()
    took = time.monotonic() - t0
    print(f"{label:<58} {took:8.1f} s", flush=True)
    return took


def _execute(selection, run_config: dict, tags: dict) -> None:
    import dagster as dg

    from portfolio_dagster.instance import get_instance

    with dg.execute_job(
        dg.reconstructable(daily_job),
        instance=get_instance(),
        run_config=run_config,
        tags=tags,
        asset_selection=selection,
        raise_on_error=True,
    ) as result:
        assert result.success


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, default=None, help="data folder (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="skip the setup run: --home already holds it")
    parser.add_argument("--backfill-years", type=int, default=10)
    parser.add_argument("--skip", default="", help="comma-separated: daily,retrain,backfill")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    backfill_start = f"{int(LAST_DAY[:4]) - args.backfill_years + 1}-01-02"
    home = (args.home or Path(tempfile.mkdtemp(prefix="pmx_bench_ops_"))).resolve()
    os.environ["PMX_HOME"] = str(home)
    for var in ("PMX_CONFIG", "PMX_WAREHOUSE", "DAGSTER_HOME"):
        os.environ.pop(var, None)
    print(f"home {home}; {os.cpu_count()} cores", flush=True)
    if not args.reuse:
        _timed(
            f"setup: pmx run {DATA_START}..{DATA_END} (20 tickers)",
            lambda: subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "portfolio_dagster.cli",
                    "run",
                    "--start",
                    DATA_START,
                    "--end",
                    DATA_END,
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                env=dict(os.environ),
            ),
        )
    os.environ["PMX_CONFIG"] = str(home / "config.effective.yaml")

    from portfolio_dagster import paths
    from portfolio_dagster.assets.all import ALL_ASSETS
    from portfolio_dagster.config import load_config
    from portfolio_dagster.jobs.pipeline import daily_selection
    from portfolio_dagster.resources.warehouse import Warehouse

    daily = sorted(daily_selection(load_config(paths.config_path())).resolve(list(ALL_ASSETS)))
    in_process = QUIET | {"execution": {"config": {"in_process": {}}}}
    two_workers = QUIET | {"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}}

    if "daily" not in skip:
        _timed(
            f"daily run, partition {LAST_DAY}, no retraining (in-process)",
            lambda: _execute(daily, in_process, {"dagster/partition": LAST_DAY}),
        )
    if "retrain" not in skip:
        _retrain(Warehouse(path=str(paths.warehouse_path())))
    if "backfill" not in skip:
        tags = dict(zip(RANGE_TAGS, (backfill_start, LAST_DAY), strict=True))
        label = f"{args.backfill_years}-year backfill of the daily stages {backfill_start}..{LAST_DAY}"
        seq = _timed(f"{label}, sequential", lambda: _execute(daily, in_process, tags))
        par = _timed(f"{label}, multiprocess 2 workers", lambda: _execute(daily, two_workers, tags))
        print(f"backfill speed-up with 2 workers: {seq / par:.2f}x (warehouse writers share pool limit 1)")


def _retrain(warehouse) -> None:
    """A weekly retrain trains the newest retrain date's models (every family and horizon) on the
    expanding window: drop those models so the retrain job trains exactly them again."""
    from portfolio_dagster.definitions import defs
    from portfolio_dagster.instance import get_instance

    with warehouse.connect() as con:
        newest = con.execute("SELECT max(valid_from) FROM model_registry").fetchone()[0]
        dropped = con.execute(
            "DELETE FROM model_registry WHERE valid_from = ? RETURNING model_id", [newest]
        ).fetchall()
    print(f"retrain: {len(dropped)} models valid from {newest} to train again", flush=True)

    def run() -> None:
        result = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=get_instance(), run_config=QUIET
        )
        assert result.success

    _timed("weekly retrain (retrain_job: the newest retrain date's models)", run)


if __name__ == "__main__":
    main()
