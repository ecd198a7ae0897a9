"""A blocking check that fails raises a `check_failed` alert: it stops the stages downstream, so an
operator must hear of it wherever the run was launched (daemon, UI, `pmx run`)."""

import dagster as dg

from portfolio_dagster.resources.alerts import CHECK_FAILED, raise_alert
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


def alert_if_blocked(
    context: dg.AssetCheckExecutionContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    result: dg.AssetCheckResult,
) -> dg.AssetCheckResult:
    """`result` unchanged; when it fails with ERROR severity (it blocks), an alert is raised first."""
    if result.passed or result.severity != dg.AssetCheckSeverity.ERROR:
        return result
    spec = context.check_specs[0]
    facts = {k: v for k, v in (result.metadata or {}).items() if isinstance(v, (bool, int, float, str))}
    summary = ", ".join(f"{k} {v}" for k, v in facts.items())
    raise_alert(
        warehouse,
        settings.config,
        CHECK_FAILED,
        f"blocking check {spec.name} failed on {spec.asset_key.to_user_string()}"
        + (f": {summary}" if summary else ""),
        run_id=context.run.run_id,
        log=context.log,
        details={"check": spec.name, "asset": spec.asset_key.to_user_string(), **facts},
    )
    return result
