"""feature_drift: have the model inputs moved away from what the model set in use was trained on?"""

import dagster as dg

from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.checks.scope import holding_warehouse
from portfolio_dagster.quant.report import markdown_table
from portfolio_dagster.resources.alerts import FEATURE_DRIFT, alerts_raised, raise_alert
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.feature_drift import drift_report
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@dg.asset_check(
    asset=forecasts,
    blocking=False,
    description="Population stability index of each input of the model set in use (the newest "
    "ensemble forecast's), its newest operations.drift_window_days sessions vs its "
    "training window; warns above operations.drift_threshold (0.2) (rule "
    "beyond_training: and above the PSI of every window of the training period).",
)
@holding_warehouse
def feature_drift(
    context: dg.AssetCheckExecutionContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    artifacts: ArtifactStore,
) -> dg.AssetCheckResult:
    cfg = settings.config
    horizon = cfg.strategy.signal_horizon
    report = drift_report(warehouse, cfg.operations, horizon, artifacts.drift_profiles_dir)
    if report.note:
        return dg.AssetCheckResult(passed=True, metadata={"note": report.note})
    drifting = report.drifting
    worst = report.worst().round(4)
    if len(drifting) and not alerts_raised(warehouse, FEATURE_DRIFT, model_set_id=report.model_set_id):
        # Once per model set: the same drift seen every day is one alert, a new set starts afresh.
        raise_alert(
            warehouse,
            cfg,
            FEATURE_DRIFT,
            report.reason(),
            run_id=context.run.run_id,
            log=context.log,
            details={
                "model_set_id": report.model_set_id,
                "max_psi": round(report.max_psi, 4),
                "drifting": list(drifting["feature"]),
                "recent_window": report.recent_window,
                "train_window": report.train_window,
            },
        )
    return dg.AssetCheckResult(
        passed=drifting.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "model_set_id": report.model_set_id,
            "training_window": report.train_window,
            "recent_window": report.recent_window,
            "threshold": report.threshold,
            "max_psi": round(report.max_psi, 4),
            "drifting_features": len(drifting),
            "inputs": len(report.table),
            "drift_rule": report.rule,
            "above_threshold": int((report.table["psi"] > report.threshold).sum()),
            "beyond_training_windows": int((report.table["psi"] > report.table["baseline_max"]).sum()),
            "worst_features": dg.MetadataValue.md(markdown_table(worst)),
            "psi": dg.MetadataValue.json(
                {r.feature: round(float(r.psi), 4) for r in report.table.itertuples() if r.psi == r.psi}
            ),
        },
    )
