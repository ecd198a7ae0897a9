"""Alerts end to end: each kind reaches the warehouse table, the JSON-lines file and a real webhook (an HTTP
server on 127.0.0.1); a blocking check failing, a run failing (the run-failure sensor) and a live source
failing after its retries raise theirs from real Dagster runs; a failing webhook never fails a run and
its URL (a secret) appears in no log, row, line or error."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest
import respx
import yaml

from portfolio_dagster.assets.raw_prices import raw_prices_alpha_vantage, raw_prices_csv
from portfolio_dagster.checks.integrity import prices_unique_and_positive
from portfolio_dagster.config import load_config
from portfolio_dagster.resources import alerts
from portfolio_dagster.resources.provider_keys import ProviderKeys
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import alpha_vantage
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.sensors.run_failure import SENSOR_NAME, alert_on_run_failure

HOOK_SECRET = "hook-token-7f3a"
AV_KEY = "AV-KEY-555"


class Hook:
    """A webhook receiver on 127.0.0.1: records every POSTed JSON body; answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.paths.append(self.path)
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/pmx?token={HOOK_SECRET}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(monkeypatch):
    receiver = Hook()
    monkeypatch.setenv("PMX_ALERT_WEBHOOK_URL", receiver.url)
    yield receiver
    receiver.close()


def setup(root: Path, **data) -> tuple[dict, Warehouse]:
    cfg = load_config().model_dump(mode="json")
    cfg["data"].update(data)
    cfg["data"]["live"].update(
        cache_dir=str(root / "cache"),
        requests_per_minute={"alpha_vantage": 0.0},
        backoff_seconds=0.0,
        max_retries=2,
        overlap_days=0,
    )
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    return {
        "settings": PipelineSettings(config_path=str(path)),
        "warehouse": warehouse,
        "provider_keys": ProviderKeys(),
    }, warehouse


def jsonl(home: Path) -> list[dict]:
    path = home / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def table(warehouse: Warehouse) -> pd.DataFrame:
    return warehouse.query(
        'SELECT "at", kind, severity, message, run_id, details, deliveries FROM alerts ORDER BY "at", kind'
    )


def no_secret(*texts: object) -> bool:
    return not any(HOOK_SECRET in str(t) or "127.0.0.1:" in str(t) for t in texts)


def test_each_kind_reaches_the_table_the_file_and_the_webhook(pmx_home, tmp_path, hook):
    resources, wh = setup(tmp_path)
    cfg = resources["settings"].config
    for i, kind in enumerate(alerts.KINDS):
        alerts.raise_alert(wh, cfg, kind, f"message {i}", run_id=f"run-{i}", details={"n": i})
    kinds = list(alerts.KINDS)
    assert [b["kind"] for b in hook.bodies] == kinds
    assert all(p == f"/hooks/pmx?token={HOOK_SECRET}" for p in hook.paths)
    first = hook.bodies[0]
    assert first["message"] == "message 0" and first["run_id"] == "run-0" and first["details"] == {"n": 0}
    assert first["severity"] == alerts.DEFAULT_SEVERITY[kinds[0]]
    assert first["text"] == f"[{first['severity'].upper()}] {kinds[0]}: message 0 (run run-0)"
    lines = jsonl(pmx_home)
    assert [line["kind"] for line in lines] == kinds
    assert [line["alert_id"] for line in lines] == [b["alert_id"] for b in hook.bodies]
    rows = table(wh)
    assert sorted(rows["kind"]) == sorted(kinds)
    assert {json.loads(d)["webhook"] for d in rows["deliveries"]} == {"ok"}
    assert {json.loads(d)["jsonl"] for d in rows["deliveries"]} == {"ok"}
    assert no_secret(rows.to_string(), (pmx_home / "alerts.jsonl").read_text())
    # The lead-facing kinds exist under these names.
    assert {
        alerts.DECAY_RETRAIN_REQUESTED,
        alerts.DECAY_RETRAIN_FINISHED,
        alerts.EMERGENCY_ON,
        alerts.EMERGENCY_OFF,
        alerts.PAPER_LEDGER_UNRECONCILED,
    } <= set(alerts.KINDS)
    with pytest.raises(ValueError, match="unknown alert kind"):
        alerts.raise_alert(wh, cfg, "typo", "x")


@dg.asset(name="prices")
def broken_prices(warehouse: Warehouse) -> None:
    """Stands in for the prices asset: stores a non-positive close, which the blocking check must stop."""
    rows = pd.DataFrame(
        {
            "ticker": ["AAA", "AAA"],
            "date": [dt.date(2024, 5, 9), dt.date(2024, 5, 10)],
            "open": [1.0, 1.0],
            "high": [1.0, 1.0],
            "low": [1.0, 1.0],
            "close": [10.0, -1.0],
            "volume": [1.0, 1.0],
            "source": ["csv", "csv"],
        }
    )
    warehouse.append("prices", rows)


@dg.asset(deps=[broken_prices])
def downstream() -> None:
    """Must not run: the blocking check on prices failed."""


def test_blocking_check_and_run_failure_alert_from_real_runs(pmx_home, tmp_path, hook):
    resources, wh = setup(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [broken_prices, downstream, prices_unique_and_positive],
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    assert not result.asset_materializations_for_node("downstream")
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and check.metadata["bad_closes"].value == 1

    rows = table(wh)
    assert list(rows["kind"]) == [alerts.CHECK_FAILED]
    assert rows["run_id"].iat[0] == result.run_id
    assert "prices_unique_and_positive failed on prices" in rows["message"].iat[0]
    assert [b["kind"] for b in hook.bodies] == [alerts.CHECK_FAILED]

    # The daemon's run-failure sensor, evaluated on that failed run.
    # A `with` scope: the warehouse resource has setup/teardown (its publication).
    with dg.build_run_status_sensor_context(
        sensor_name=SENSOR_NAME,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources=resources,
    ) as status:
        context = status.for_run_failure()
        alert_on_run_failure(context)
        alert_on_run_failure(context)  # evaluated twice: still one alert for the run
    rows = table(wh)
    failed = rows[rows["kind"] == alerts.RUN_FAILED]
    assert len(failed) == 1 and failed["run_id"].iat[0] == result.run_id
    assert failed["severity"].iat[0] == alerts.CRITICAL
    assert "prices_unique_and_positive" in failed["message"].iat[0]
    assert [b["kind"] for b in hook.bodies] == [alerts.CHECK_FAILED, alerts.RUN_FAILED]
    assert [line["kind"] for line in jsonl(pmx_home)] == [alerts.CHECK_FAILED, alerts.RUN_FAILED]


def _failing_source_run(tmp_path, monkeypatch) -> tuple[dg.ExecuteInProcessResult, Warehouse, list[str]]:
    """A run whose live source fails after its retries and falls back to the CSV; with its log lines."""
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", AV_KEY)
    csv = tmp_path / "px.csv"
    csv.write_text("date,ticker,close\n2024-05-09,IBM,168.0\n2024-05-10,IBM,170.0\n")
    resources, wh = setup(
        tmp_path, sources=["alpha_vantage", "csv"], csv_path=str(csv), tickers=["IBM"], benchmark="IBM"
    )
    path = Path(resources["settings"].config_path)
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text()) | {"strategy": {"safe_assets": ["IBM"]}}))
    tags = {
        "dagster/asset_partition_range_start": "2024-05-09",
        "dagster/asset_partition_range_end": "2024-05-10",
    }
    with respx.mock:
        route = respx.get(alpha_vantage.URL).mock(return_value=httpx.Response(503, text="<html>down</html>"))
        instance = dg.DagsterInstance.ephemeral()
        result = dg.materialize(
            [raw_prices_alpha_vantage, raw_prices_csv], resources=resources, tags=tags, instance=instance
        )
        assert route.call_count == 3  # the source's own retries ran first
    logged = [e.user_message for e in instance.all_logs(result.run_id)]
    return result, wh, logged


def test_a_source_failing_after_its_retries_alerts_and_the_run_goes_on(pmx_home, tmp_path, hook, monkeypatch):
    result, wh, _ = _failing_source_run(tmp_path, monkeypatch)
    assert result.success
    rows = table(wh)
    assert list(rows["kind"]) == [alerts.SOURCE_FAILED] and rows["severity"].iat[0] == alerts.WARNING
    message = rows["message"].iat[0]
    assert (
        "alpha_vantage: server error (HTTP 503) after 3 attempts" in message
        and "falling back to csv" in message
    )
    details = json.loads(rows["details"].iat[0])
    assert details == {"source": "alpha_vantage", "range": "2024-05-09..2024-05-12", "fallback_to": "csv"}
    assert [b["kind"] for b in hook.bodies] == [alerts.SOURCE_FAILED]
    assert AV_KEY not in json.dumps(hook.bodies) and AV_KEY not in rows.to_string()


@pytest.mark.parametrize("broken", ["HTTP 500", "connection refused"])
def test_a_failing_webhook_never_fails_the_run_and_never_shows_its_url(
    pmx_home, tmp_path, monkeypatch, broken
):
    receiver = Hook(status=500)
    if broken == "connection refused":
        receiver.close()  # nothing listens on that port any more
    monkeypatch.setenv("PMX_ALERT_WEBHOOK_URL", receiver.url)
    try:
        result, wh, logged = _failing_source_run(tmp_path, monkeypatch)
    finally:
        if broken != "connection refused":
            receiver.close()
    assert result.success
    deliveries = json.loads(table(wh)["deliveries"].iat[0])
    expected = "failed (HTTP 500)" if broken == "HTTP 500" else "failed (ConnectionRefusedError)"
    assert deliveries == {"jsonl": "ok", "webhook": expected}
    if broken == "HTTP 500":
        assert len(receiver.bodies) == 3  # retried: 1 + webhook_retries
    assert any(f"the webhook (URL in $PMX_ALERT_WEBHOOK_URL) {expected}" in m for m in logged)
    assert no_secret(*logged, table(wh).to_string(), (pmx_home / "alerts.jsonl").read_text())
    assert [line["kind"] for line in jsonl(pmx_home)] == [alerts.SOURCE_FAILED]


def test_sinks_off_by_config(pmx_home, tmp_path, hook):
    resources, wh = setup(tmp_path)
    cfg = resources["settings"].config
    quiet = cfg.model_copy(
        update={"alerts": cfg.alerts.model_copy(update={"jsonl": False, "webhook_url_env": None})}
    )
    alerts.raise_alert(wh, quiet, alerts.EMERGENCY_ON, "accuracy 0.41 < 0.45")
    assert hook.bodies == [] and not (pmx_home / "alerts.jsonl").exists()
    assert json.loads(table(wh)["deliveries"].iat[0]) == {"jsonl": "off", "webhook": "off"}
