"""Safe concurrency and crash recovery on the real pipeline (subprocesses, one shared warehouse).

- Several runs at once (two `pmx run` and a multiprocess-executor `dagster job execute` backfill)
  never fail on DuckDB's file lock, and the tables equal those of one sequential run.
- A `pmx run` killed with SIGKILL mid-pipeline leaves every table consistent; the next run frees
  the dead run's pool slot (else it would wait forever) and ends with identical tables.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from portfolio_dagster.resources import publication
from tests.pipeline_helpers import CONTRACT_TABLES, read_table, sample_slice_csv, small_config

# Columns that legitimately differ between two runs: wall-clock stamps, paths under the home.
VOLATILE = ("ingested_at", "trained_at", "evaluated_at", "artifact")
RUN_TIMEOUT = 900


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PMX_CONFIG", "PMX_WAREHOUSE", "DAGSTER_HOME")}
    return env | {"PMX_HOME": str(home), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _pmx(home: Path, config: Path, csv: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portfolio_dagster.cli",
            "run",
            "--config",
            str(config),
            "--csv",
            str(csv),
            "--start",
            SLICE_FROM,
            "--end",
            SLICE_TO,
        ],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, out[-3000:]
    return out


def _tables(home: Path, working: bool = False) -> dict[str, pd.DataFrame]:
    """The published warehouse's tables (or the working copy's, what the pipeline has committed)."""
    path = publication.working_path(home / "warehouse.duckdb") if working else home / "warehouse.duckdb"
    out = {}
    for table in (*CONTRACT_TABLES, "raw_prices_csv"):
        frame = read_table(path, table)
        frame = frame.drop(columns=[c for c in VOLATILE if c in frame.columns])
        out[table] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


def _assert_same_tables(home: Path, expected: dict[str, pd.DataFrame]) -> None:
    got = _tables(home)
    for table, frame in expected.items():
        assert len(frame) > 0 or table not in NON_EMPTY, f"{table} empty in the sequential run"
        pd.testing.assert_frame_equal(got[table], frame, check_exact=False, rtol=1e-12, obj=table)


# A short slice keeps each full pipeline run (Dagster events per partition) to tens of seconds.
SLICE_FROM, BACKTEST_FROM, SLICE_TO = "1996-07-01", "1998-07-01", "1998-12-31"
BACKFILL_FROM = "1998-11-02"  # the daily_job backfill's first day: a range of 44 daily partitions
NON_EMPTY = ("prices", "features", "targets", "model_registry", "forecasts", "signals", "allocations")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ops_inputs")
    config = small_config(root / "pipeline.yaml")
    cfg = yaml.safe_load(config.read_text())
    cfg["models"]["min_train_days"] = 100
    cfg["backtest"]["start"] = BACKTEST_FROM
    # The daily_job backfill below covers a day range before the run's last week: partitions from there.
    cfg["operations"]["daily_partitions_from"] = BACKFILL_FROM
    config.write_text(yaml.safe_dump(cfg))
    csv = sample_slice_csv(root / "slice.csv")
    px = pd.read_csv(csv)
    px[(px["date"] >= SLICE_FROM) & (px["date"] <= SLICE_TO)].to_csv(csv, index=False)
    return config, csv


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, inputs):
    home = tmp_path_factory.mktemp("sequential")
    _finish(_pmx(home, *inputs))
    return _tables(home)


def _daily_job_backfill(home: Path, first: str, last: str) -> subprocess.Popen:
    """daily_job over [first, last] as one run, multiprocess executor with 2 workers, via the dagster CLI."""
    run_config = home / "multiprocess.yaml"
    run_config.write_text(
        yaml.safe_dump(
            {
                "execution": {"config": {"multiprocess": {"max_concurrent": 2}}},
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            }
        )
    )
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    env = _env(home) | {
        "DAGSTER_HOME": str(home / "dagster_home"),
        "PMX_CONFIG": str(home / "config.effective.yaml"),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "job",
            "execute",
            "-m",
            "portfolio_dagster.definitions",
            "-j",
            "daily_job",
            "-c",
            str(run_config),
            "--tags",
            json.dumps(tags),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_concurrent_runs_match_a_sequential_run(tmp_path, inputs, sequential):
    home = tmp_path / "data"
    config, csv = inputs
    first = _pmx(home, config, csv)
    # Let the first run write the instance config and effective config the CLI backfill reuses.
    while (
        not (home / "config.effective.yaml").exists() or not (home / "dagster_home" / "dagster.yaml").exists()
    ):
        time.sleep(0.2)
    others = [_pmx(home, config, csv), _daily_job_backfill(home, BACKFILL_FROM, SLICE_TO)]
    outputs = [_finish(p) for p in (first, *others)]
    for out in outputs:
        assert "could not set lock" not in out.lower(), out[-2000:]
    runs = _instance_runs(home)
    backfill = [r for r in runs if r.job_name == "daily_job"]
    assert len(backfill) == 1 and backfill[0].tags["dagster/asset_partition_range_start"] == BACKFILL_FROM
    assert all(r.status.value == "SUCCESS" for r in runs), [(r.job_name, r.status) for r in runs]
    _assert_same_tables(home, sequential)


def _instance_runs(home: Path) -> list:
    from dagster import DagsterInstance

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    try:
        return list(DagsterInstance.get().get_runs())
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous


def _wait_for_a_started_run_after(home: Path, job_name: str, proc: subprocess.Popen) -> None:
    """Until a run started after the last `job_name` run is in progress (fails after 120 s)."""
    from dagster import DagsterRunStatus

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed mid-run"
        runs = _instance_runs(home)  # newest first
        last = next(i for i, r in enumerate(runs) if r.job_name == job_name)
        if any(r.status == DagsterRunStatus.STARTED for r in runs[:last]):
            return
        time.sleep(0.1)
    raise AssertionError("no run started after the models run within 120 s")


def test_sigkill_mid_run_then_rerun_gives_identical_tables(tmp_path, inputs, sequential):
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    home = tmp_path / "data"
    config, csv = inputs
    proc = _pmx(home, config, csv)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if " models " in line and " ok " in line:
            break
    assert proc.poll() is None, "".join(lines)
    # Kill inside the next run (its step holds the warehouse pool slot), not between two runs.
    _wait_for_a_started_run_after(home, "retrain_job", proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # Nothing of the killed run reached the published file users read (a run publishes when it completes;
    # the models run's steps, on the multiprocess executor, each published theirs), and in the working copy
    # the committed stages are intact and equal the uninterrupted run's.
    if (home / "warehouse.duckdb").exists():
        published = _tables(home)
        assert published["forecasts"].empty and not published["model_registry"].empty
    partial = _tables(home, working=True)
    for table in ("prices", "features", "targets", "model_registry"):
        pd.testing.assert_frame_equal(
            partial[table], sequential[table], check_exact=False, rtol=1e-12, obj=table
        )
    assert len(partial["forecasts"]) in (0, len(sequential["forecasts"]))
    rerun = _finish(_pmx(home, config, csv))
    assert "cleaned up 1 dead run(s)" in rerun
    _assert_same_tables(home, sequential)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    try:
        instance = DagsterInstance.get()
        failed = instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
        assert len(failed) == 1 and "is gone" in str(instance.all_logs(failed[0].run_id)[-1].message)
        assert not instance.event_log_storage.get_concurrency_run_ids()
    finally:
        del os.environ["DAGSTER_HOME"]
