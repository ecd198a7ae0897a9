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
