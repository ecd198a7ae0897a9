"""Alerts: `raise_alert` records one in the warehouse table `alerts` and sends it to the configured sinks
(config `alerts`): a JSON line appended under the data folder and a POST to a webhook whose URL is read
from the environment variable the config names. A sink that fails is logged (never with the URL) and
recorded in the row's `deliveries`; it never fails the caller: an alert must not turn a warning into an
outage. The external sinks go first so an operator hears even when the warehouse is locked or broken.

Kinds are module constants; callers pass one of KINDS.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from portfolio_dagster import paths
from portfolio_dagster.config import AlertsConfig, PipelineConfig
from portfolio_dagster.resources.warehouse import Warehouse

RUN_FAILED = "run_failed"
CHECK_FAILED = "check_failed"
SOURCE_FAILED = "source_failed"
FEATURE_DRIFT = "feature_drift"
DECAY_RETRAIN_REQUESTED = "decay_retrain_requested"
DECAY_RETRAIN_FINISHED = "decay_retrain_finished"
EMERGENCY_ON = "emergency_on"
EMERGENCY_OFF = "emergency_off"
PAPER_LEDGER_UNRECONCILED = "paper_ledger_unreconciled"

INFO, WARNING, CRITICAL = "info", "warning", "critical"
SEVERITIES = (INFO, WARNING, CRITICAL)
# Each kind's severity unless the caller says otherwise.
DEFAULT_SEVERITY = {
    RUN_FAILED: CRITICAL,
    CHECK_FAILED: CRITICAL,
    SOURCE_FAILED: WARNING,
    FEATURE_DRIFT: WARNING,
    DECAY_RETRAIN_REQUESTED: WARNING,
    DECAY_RETRAIN_FINISHED: INFO,
    EMERGENCY_ON: CRITICAL,
    EMERGENCY_OFF: INFO,
    PAPER_LEDGER_UNRECONCILED: CRITICAL,
}
KINDS = tuple(DEFAULT_SEVERITY)
OK, OFF = "ok", "off"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str
    message: str
    run_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
    alert_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def payload(self) -> dict[str, Any]:
        """The JSON a sink receives; `text` is the one-line form chat webhooks display."""
        return {
            "alert_id": self.alert_id,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "run_id": self.run_id,
            "details": dict(self.details),
            "text": format_text(self),
        }


def format_text(alert: Alert) -> str:
    """One line: severity, kind, message and the run it is about."""
    run = f" (run {alert.run_id[:8]})" if alert.run_id else ""
    return f"[{alert.severity.upper()}] {alert.kind}: {alert.message}{run}"


def raise_alert(
    warehouse: Warehouse,
    config: PipelineConfig,
    kind: str,
    message: str,
    *,
    severity: str | None = None,
    run_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    log: Any = None,
) -> Alert:
    """Record the alert and send it to every configured sink. `log`: a logger with .warning (a Dagster
    context.log); sink failures are logged there. Never raises for a sink; raises ValueError for an
    unknown kind or severity (a programming error)."""
    if kind not in DEFAULT_SEVERITY:
        raise ValueError(f"unknown alert kind {kind!r}; one of {', '.join(KINDS)}")
    severity = severity or DEFAULT_SEVERITY[kind]
    if severity not in SEVERITIES:
        raise ValueError(f"unknown alert severity {severity!r}; one of {', '.join(SEVERITIES)}")
    alert = Alert(kind, severity, message, run_id, dict(details or {}))
    log = log or _log
    sinks = config.alerts
    deliveries = {"jsonl": _to_jsonl(alert, sinks, log), "webhook": _to_webhook(alert, sinks, log)}
    _to_table(warehouse, alert, deliveries, log)
    (log.warning if severity != INFO else log.info)(f"alert {format_text(alert)}")
    return alert


def jsonl_path(sinks: AlertsConfig) -> Path:
    path = Path(sinks.jsonl_file)
    return path if path.is_absolute() else paths.home() / path


def _to_jsonl(alert: Alert, sinks: AlertsConfig, log: Any) -> str:
    if not sinks.jsonl:
        return OFF
    path = jsonl_path(sinks)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(alert.payload(), default=str) + "\n")  # one write: lines never interleave
    except OSError as exc:
        log.warning(f"alert {alert.kind}: the JSON-lines file {path} failed ({type(exc).__name__})")
        return f"failed ({type(exc).__name__})"
    return OK


def _to_webhook(alert: Alert, sinks: AlertsConfig, log: Any) -> str:
    url = os.environ.get(sinks.webhook_url_env, "").strip() if sinks.webhook_url_env else ""
    if not url:
        return OFF
    body = json.dumps(alert.payload(), default=str).encode()
    # urllib, not httpx: httpx logs each request's URL at INFO, and the URL is a secret.
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "pmx-alerts"},
    )
    problem = "no attempt"
    for _ in range(sinks.webhook_retries + 1):
        try:
            with urllib.request.urlopen(request, timeout=sinks.webhook_timeout_seconds) as response:
                response.read()
            return OK
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                break  # the hook refused this alert: asking again will not help
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            # Type only: str(exc) may carry the host.
            reason = getattr(exc, "reason", None)
            problem = type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__
    log.warning(
        f"alert {alert.kind}: the webhook (URL in ${sinks.webhook_url_env}) failed ({problem}); "
        "the alert is in the alerts table"
    )
    return f"failed ({problem})"


def _to_table(warehouse: Warehouse, alert: Alert, deliveries: Mapping[str, str], log: Any) -> None:
    row = pd.DataFrame(
        [
            {
                "alert_id": alert.alert_id,
                "at": alert.at.replace(tzinfo=None),
                "kind": alert.kind,
                "severity": alert.severity,
                "message": alert.message,
                "run_id": alert.run_id,
                "details": json.dumps(dict(alert.details), default=str),
                "deliveries": json.dumps(dict(deliveries)),
            }
        ]
    )
    try:
        warehouse.append("alerts", row)
    except (duckdb.Error, OSError) as exc:
        log.warning(f"alert {alert.kind}: the alerts table could not be written ({type(exc).__name__})")


def alerts_raised(warehouse: Warehouse, kind: str, **details: str) -> int:
    """How many alerts of `kind` whose details hold these string values (to raise one only once)."""
    sql = "SELECT count(*) AS n FROM alerts WHERE kind = ?"
    params: list[object] = [kind]
    for key, value in details.items():
        if not key.isidentifier():
            raise ValueError(f"bad detail name {key!r}")
        sql += f" AND json_extract_string(details, '$.{key}') = ?"
        params.append(value)
    try:
        found = warehouse.query(sql, params)
    except duckdb.CatalogException:  # a warehouse from before the alerts table: none raised yet
        return 0
    return int(found["n"].iat[0]) if len(found) else 0
