"""Operational checks: model inputs finite, forecast coverage per ticker, the purge guard, price freshness.

Blocking checks return ERROR severity on failure and so stop the stages downstream; conditions a
user's data can legitimately show (NaN after a gap, a stale ticker) fail with WARN and only inform.
"""


import dagster as dg
import pandas as pd

from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.models import MODEL_LINEAGE_SECTIONS, models
from portfolio_dagster.assets.prices import prices
from portfolio_dagster.checks.alerting import alert_if_blocked
from portfolio_dagster.quant.features import FEATURE_NAMES, LOOKBACK
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

# A ticker whose newest close is this many weekdays behind the table's newest close is stale.
STALE_AFTER_WEEKDAYS = 5


def _per_ticker(frame: pd.DataFrame, column: str) -> dict[str, int]:
    return {str(t): int(n) for t, n in zip(frame["ticker"], frame[column]) if n}


@dg.asset_check(asset=features, blocking=True,
                description="Model inputs: no +/-inf anywhere (blocks); NaN after each ticker's warm-up warns.")
def features_finite(context: dg.AssetCheckExecutionContext, settings: PipelineSettings,
                    warehouse: Warehouse) -> dg.AssetCheckResult:
    inf = " OR ".join(f"isinf({c})" for c in FEATURE_NAMES)
    nan = " OR ".join(f"{c} IS NULL OR isnan({c})" for c in FEATURE_NAMES)
    counts = warehouse.query(
        f"SELECT ticker, sum(CASE WHEN {inf} THEN 1 ELSE 0 END) AS inf_rows, "
        f"sum(CASE WHEN rn > ? AND ({nan}) THEN 1 ELSE 0 END) AS nan_rows FROM "
        f"(SELECT *, row_number() OVER (PARTITION BY ticker ORDER BY date) AS rn FROM features) GROUP BY ticker",
        [LOOKBACK])
    if counts.empty:
        return dg.AssetCheckResult(passed=True, metadata={"rows": 0})
    inf_rows, nan_rows = int(counts["inf_rows"].sum()), int(counts["nan_rows"].sum())
    passed = inf_rows == 0 and nan_rows == 0
    return alert_if_blocked(context, settings, warehouse, dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR if inf_rows else dg.AssetCheckSeverity.WARN,
        metadata={"inf_rows": inf_rows, "nan_rows_after_warmup": nan_rows, "warmup_days": LOOKBACK,
                  "nan_rows_by_ticker": dg.MetadataValue.json(_per_ticker(counts, "nan_rows"))}))


@dg.asset_check(asset=forecasts, blocking=True,
                description="Every ticker with features on a forecast date has an ensemble forecast per horizon.")
def forecast_coverage(context: dg.AssetCheckExecutionContext, settings: PipelineSettings,
                      warehouse: Warehouse) -> dg.AssetCheckResult:
    # From each horizon's first forecast date on (before it no model is valid yet).
    missing = warehouse.query(
        "WITH first AS (SELECT horizon, min(date) AS d FROM forecasts WHERE model = 'ensemble' GROUP BY horizon) "
        "SELECT f.ticker, count(*) AS missing FROM features f JOIN first ON f.date >= first.d "
        "LEFT JOIN forecasts c ON c.ticker = f.ticker AND c.date = f.date AND c.horizon = first.horizon "
        "AND c.model = 'ensemble' WHERE c.ticker IS NULL GROUP BY f.ticker ORDER BY f.ticker")
    total = int(missing["missing"].sum()) if len(missing) else 0
    return alert_if_blocked(context, settings, warehouse, dg.AssetCheckResult(passed=total == 0, metadata={
        "missing_forecasts": total,
        "missing_by_ticker": dg.MetadataValue.json(_per_ticker(missing, "missing") if total else {})}))


@dg.asset_check(asset=models, blocking=True,
                description="Purge guard: each model's last training target was realized before its first use.")
def purge_guard(context: dg.AssetCheckExecutionContext, settings: PipelineSettings,
                warehouse: Warehouse) -> dg.AssetCheckResult:
    cfg = settings.config
    registry = warehouse.query(
        "SELECT model_id, horizon, train_end, valid_from FROM model_registry WHERE config_hash = ?",
        [cfg.fingerprint(*MODEL_LINEAGE_SECTIONS)])
    calendar = warehouse.query("SELECT DISTINCT date FROM prices ORDER BY date")
    if registry.empty:
        return dg.AssetCheckResult(passed=True, metadata={"models": 0})
    days = pd.DatetimeIndex(pd.to_datetime(calendar["date"]))
    # The target of train_end is realized at the close `horizon` trading days later; that close
    # must come strictly before valid_from, the first close the model forecasts at.
    end_pos = days.searchsorted(pd.to_datetime(registry["train_end"]))
    use_pos = days.searchsorted(pd.to_datetime(registry["valid_from"]))
    leaking = registry[end_pos + registry["horizon"].to_numpy() >= use_pos]
    return alert_if_blocked(context, settings, warehouse, dg.AssetCheckResult(passed=leaking.empty, metadata={
        "models": len(registry), "leaking_models": dg.MetadataValue.json(list(leaking["model_id"]))}))


@dg.asset_check(asset=prices, blocking=False,
                description=f"Freshness: no ticker's newest close more than {STALE_AFTER_WEEKDAYS} weekdays "
                            "behind the newest close of the table.")
def prices_fresh(warehouse: Warehouse) -> dg.AssetCheckResult:
    newest = warehouse.query("SELECT ticker, max(date) AS newest FROM prices GROUP BY ticker ORDER BY ticker")
    if newest.empty:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "prices is empty"})
    dates = pd.to_datetime(newest["newest"])
    lag = pd.Series([len(pd.bdate_range(d, dates.max())) - 1 for d in dates], index=newest["ticker"])
    stale = {str(t): int(n) for t, n in lag.items() if n > STALE_AFTER_WEEKDAYS}
    return dg.AssetCheckResult(passed=not stale, severity=dg.AssetCheckSeverity.WARN, metadata={
        "newest_close": str(dates.max().date()), "stale_tickers": dg.MetadataValue.json(stale)})


OPERATIONS_CHECKS = (features_finite, forecast_coverage, purge_guard, prices_fresh)
