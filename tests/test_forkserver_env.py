"""A multiprocess run's steps fork from a forkserver that keeps the environment of the first run: a
later run whose step-shaping variables differ goes in-process instead (pipeline_execution)."""

import pytest

from portfolio_dagster import pipeline_execution


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(pipeline_execution, "_forkserver_env", None)
    monkeypatch.setenv("PMX_HOME", "/tmp/a")
    monkeypatch.setenv("FINNHUB_API_KEY", "k1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert pipeline_execution._forkserver_env_current()  # the first run starts the forkserver
    return monkeypatch


@pytest.mark.parametrize(
    ("name", "value", "current"),
    [
        ("PMX_HOME", "/tmp/b", True),  # paths travel with the run: steps are given them
        ("PMX_POSTGRES_URL", "postgresql://h/d", False),
        ("FINNHUB_API_KEY", "k2", False),  # a secret a step reads
        ("OMP_NUM_THREADS", "4", False),  # thread counts: determinism
        ("UNRELATED", "x", True),
    ],
)
def test_a_step_shaping_variable_changed_since_the_forkserver_started_is_seen(fresh, name, value, current):
    fresh.setenv(name, value)
    assert pipeline_execution._forkserver_env_current() is current


def test_a_forkserver_started_before_the_runs_hands_its_processes_the_data_folders_log(tmp_path):
    """`pmx run` starts the forkserver before its first run (its imports overlap the market runs); the
    processes it forks later write their stderr to the data folder's log, not the terminal."""
    import subprocess
    import sys

    script = f"""
import multiprocessing, os
os.environ["PMX_HOME"] = {str(tmp_path)!r}
from portfolio_dagster import pipeline_execution
assert pipeline_execution.prestart_forkserver(debug=True) is False
assert pipeline_execution.prestart_forkserver() is True
step = multiprocessing.get_context("forkserver").Process(target=os.write, args=(2, b"a step's noise"))
step.start()
step.join()
assert step.exitcode == 0
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "a step's noise" not in proc.stderr
    assert "a step's noise" in (tmp_path / "pmx.log").read_text()
