"""Shared fixtures. Tests use real DuckDB files and real Dagster runs in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Deterministic, single-threaded numerics for every test process.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")


@pytest.fixture
def pmx_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated data folder: warehouse, Dagster instance, artifacts."""
    home = tmp_path / "data"
    monkeypatch.setenv("PMX_HOME", str(home))
    monkeypatch.delenv("PMX_CONFIG", raising=False)
    monkeypatch.delenv("PMX_WAREHOUSE", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return home
