"""The Dagster UI for real: `dagster dev` (webserver + daemon) on 127.0.0.1 over a temporary instance.

Asks the GraphQL API for the asset graph, schedules, sensors and checks, launches a one-partition
materialization of a source asset from a tiny CSV, waits for it to succeed, then stops the server.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from portfolio_dagster.config import load_config
from tests.pipeline_helpers import sample_slice_csv

PARTITION = "1999-12-01"
STARTUP_TIMEOUT, RUN_TIMEOUT = 180, 240

ASSET_GRAPH = """{ assetNodes { assetKey { path } dependencyKeys { path }
  assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"""
LOCATIONS = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
SCHEDULES = """query($r: RepositorySelector!) { schedulesOrError(repositorySelector: $r) {
  __typename ... on Schedules { results { name cronSchedule executionTimezone
  scheduleState { status } } } } }"""
SENSORS = """query($r: RepositorySelector!) { sensorsOrError(repositorySelector: $r) {
  __typename ... on Sensors { results { name sensorState { status } } } } }"""
LAUNCH = """mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _restore_default_signals() -> None:
    # A parent that ignores SIGINT/SIGTERM (background shells, CI) would make the server unstoppable.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _gql(url: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture()
def webserver(tmp_path):
    from portfolio_dagster.instance import INSTANCE_YAML

    home = tmp_path / "data"
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(INSTANCE_YAML.format(home=dagster_home))
    cfg = load_config().model_dump(mode="json")
    cfg["data"].update(sources=["csv"], csv_path=str(sample_slice_csv(tmp_path / "slice.csv")))
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items()} | {
        "PMX_HOME": str(home),
        "PMX_CONFIG": str(config),
        "PMX_WAREHOUSE": str(home / "warehouse.duckdb"),
        "DAGSTER_HOME": str(dagster_home),
    }
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            "portfolio_dagster.definitions",
        ],
        env=env,
        cwd=os.getcwd(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_restore_default_signals,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while True:
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "webserver did not start"
            time.sleep(1)
        yield url, home, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ui_graph_schedules_sensors_checks_and_a_launched_materialization(webserver):
    url, home, proc = webserver
    nodes = _gql(url, ASSET_GRAPH)["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {"raw_prices_csv", "prices", "features", "targets", "models", "forecasts", "allocations"} <= keys
    deps = {
        "/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes
    }
    assert "signals" in deps["allocations"] and "models" in deps["forecasts"]
    checks = {c["name"]: c["blocking"] for n in nodes for c in n["assetChecksOrError"].get("checks", [])}
    assert checks["purge_guard"] and checks["forecast_coverage"] and checks["features_finite"]
    assert "prices_fresh" in checks

    location = _gql(url, LOCATIONS)["workspaceOrError"]["locationEntries"][0]["name"]
    repo = {"repositoryLocationName": location, "repositoryName": "__repository__"}
    schedules = {s["name"]: s for s in _gql(url, SCHEDULES, {"r": repo})["schedulesOrError"]["results"]}
    assert schedules["daily_after_close"]["cronSchedule"] == "0 18 * * 1-5"
    assert schedules["daily_after_close"]["executionTimezone"] == "America/New_York"
    assert "weekly_retrain" in schedules
    sensors = {s["name"] for s in _gql(url, SENSORS, {"r": repo})["sensorsOrError"]["results"]}
    assert "forecast_decay" in sensors

    launched = _gql(
        url,
        LAUNCH,
        {
            "p": {
                "selector": repo
                | {"pipelineName": "__ASSET_JOB", "assetSelection": [{"path": ["raw_prices_csv"]}]},
                "runConfigData": {},
                "mode": "default",
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": PARTITION}]},
            }
        },
    )
    launch = launched["launchPipelineExecution"]
    assert launch["__typename"] == "LaunchRunSuccess", launch
    run_id = launch["run"]["runId"]
    deadline = time.monotonic() + RUN_TIMEOUT
    status = None
    while time.monotonic() < deadline:
        status = _gql(url, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    assert status == "SUCCESS"
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT count(*), min(date), max(date) FROM raw_prices_csv").fetchone()
    finally:
        con.close()
    assert rows[0] == 8 and str(rows[1]) == PARTITION == str(rows[2])  # 5 tickers, the benchmark, CASH, BOND

    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("/graphql", "/server_info"), timeout=2)
