"""Operational checks: model inputs finite, forecast coverage per ticker, the purge guard, price freshness.

Blocking checks return ERROR severity on failure and so stop the stages downstream; conditions a
user's data can legitimately show (NaN after a gap, a stale ticker) fail with WARN and only inform.
"""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd

from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.models import MODEL_LINEAGE_SECTIONS, models
from portfolio_dagster.assets.prices import prices
from portfolio_dagster.checks.alerting import alert_if_blocked
from portfolio_dagster.checks.scope import holding_warehouse, run_window, window_check
from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.features import (
    FEATURE_NAMES,
    LOOKBACK,
    OPTIONAL_FIELDS,
    history_of,
    required_fields,
    selected_feature_names,
    window_of,
)
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

# A ticker whose newest close is more than this many XNYS sessions behind the run's last session is stale;
# one without a close in the last LIVE_SESSIONS has ended (delisted, a series that stops) and is not flagged.
STALE_AFTER_SESSIONS = 5
LIVE_SESSIONS = 63


def _per_ticker(frame: pd.DataFrame, column: str) -> dict[str, int]:
    return {str(t): int(n) for t, n in zip(frame["ticker"], frame[column], strict=True) if n}


@window_check(
    features,
    blocking=True,
    description="Model inputs: no +/-inf in any feature (blocks); NaN after each ticker's warm-up in a "
    "model input (features.selected) the ticker's prices can define warns (a volume feature of a "
    "close-only ticker, or an input whose window holds an unchanged close, is NaN by design and not "
    "counted).",
)
def features_finite(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.AssetCheckResult:
    start, end = run_window(context)
    inputs = selected_feature_names(settings.config.features.selected)
    inf = " OR ".join(f"isinf({c})" for c in FEATURE_NAMES)
    # A model input counts for a ticker whose prices hold every field the input cannot do without, and on
    # a date whose closes moved: about a window of unchanged closes (a stale or flat price) within the
    # input's warm-up makes ratios of its moves 0/0 (ADX, Bollinger and range position, gain ratio: the
    # sample's RRC in 1991-92), NaN by design and counted apart.
    window = {c: max(history_of(c), 1) for c in inputs}  # at least the row's own close
    by_design = {c: f"coalesce(s.stale_{window[c]}, 0) >= {max(window_of(c) - 1, 1)}" for c in inputs}

    def missing(c: str) -> str:
        fields = "".join(f" AND coalesce(h.{field}, true)" for field in sorted(required_fields(c)))
        return f"(({c} IS NULL OR isnan({c})){fields})"

    nan = " OR ".join(f"({missing(c)} AND NOT {by_design[c]})" for c in inputs)
    stale_nan = " OR ".join(f"({missing(c)} AND {by_design[c]})" for c in inputs)
    stale = ", ".join(
        f"sum(unchanged) OVER (PARTITION BY ticker ORDER BY date ROWS BETWEEN {w - 1} PRECEDING AND "
        f"CURRENT ROW) AS stale_{w}"
        for w in sorted(set(window.values()))
    )
    # The closes before `start` the longest window reads (calendar days: weekends, holidays, a margin).
    since = start - dt.timedelta(days=max(window.values()) * 7 // 5 + 30)
    has = ", ".join(f"count({field}) > 0 AS {field}" for field in OPTIONAL_FIELDS)
    # The warm-up is each ticker's first LOOKBACK feature dates: a row's rank is its rank in the window
    # plus the ticker's rows before it, numbered over (ticker, date) alone (a window over every feature
    # column materialized the whole table: 3.4 GiB at 500 names x 20 years).
    counts = warehouse.query(
        f"WITH h AS (SELECT ticker, {has} FROM prices GROUP BY ticker), "
        "before AS (SELECT ticker, count(*) AS n FROM features WHERE date < ? GROUP BY ticker), "
        "r AS (SELECT ticker, date, coalesce(before.n, 0) + row_number() OVER (PARTITION BY ticker "
        "ORDER BY date) AS rn FROM features LEFT JOIN before USING (ticker) WHERE date >= ? AND date < ?), "
        "u AS (SELECT ticker, date, CASE WHEN close = lag(close) OVER (PARTITION BY ticker ORDER BY date) "
        "THEN 1 ELSE 0 END AS unchanged FROM prices WHERE date >= ? AND date < ?), "
        f"s AS (SELECT ticker, date, {stale} FROM u) "
        f"SELECT ticker, sum(CASE WHEN {inf} THEN 1 ELSE 0 END) AS inf_rows, "
        f"sum(CASE WHEN r.rn > ? AND ({nan}) THEN 1 ELSE 0 END) AS nan_rows, "
        f"sum(CASE WHEN r.rn > ? AND ({stale_nan}) THEN 1 ELSE 0 END) AS stale_nan_rows, "
        + ", ".join(f"bool_and(coalesce(h.{field}, true)) AS has_{field}" for field in OPTIONAL_FIELDS)
        + " FROM features f JOIN r USING (ticker, date) LEFT JOIN h USING (ticker) "
        "LEFT JOIN s USING (ticker, date) WHERE f.date >= ? AND f.date < ? GROUP BY ticker",
        [start, start, end, since, end, LOOKBACK, LOOKBACK, start, end],
    )
    if counts.empty:
        return dg.AssetCheckResult(passed=True, metadata={"rows": 0})
    inf_rows, nan_rows = int(counts["inf_rows"].sum()), int(counts["nan_rows"].sum())
    lacking = {
        field: sorted(counts.loc[~counts[f"has_{field}"].astype(bool), "ticker"].astype(str))
        for field in OPTIONAL_FIELDS
    }
    passed = inf_rows == 0 and nan_rows == 0
    return alert_if_blocked(
        context,
        settings,
        warehouse,
        dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR if inf_rows else dg.AssetCheckSeverity.WARN,
            metadata={
                "inf_rows": inf_rows,
                "nan_rows_after_warmup": nan_rows,
                "nan_rows_unchanged_close": int(counts["stale_nan_rows"].sum()),
                "warmup_days": LOOKBACK,
                "model_inputs_checked": len(inputs),
                "tickers_without_field": dg.MetadataValue.json({k: v for k, v in lacking.items() if v}),
                "nan_rows_by_ticker": dg.MetadataValue.json(_per_ticker(counts, "nan_rows")),
            },
        ),
    )


@window_check(
    forecasts,
    blocking=True,
    description="Every ticker with features on a forecast date has an ensemble forecast per horizon.",
)
def forecast_coverage(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.AssetCheckResult:
    start, end = run_window(context)
    # From each horizon's first forecast date on (before it no model is valid yet).
    missing = warehouse.query(
        "WITH first AS (SELECT horizon, min(date) AS d FROM forecasts WHERE model = 'ensemble' AND date < ? "
        "GROUP BY horizon), "
        "c AS (SELECT ticker, date, horizon FROM forecasts WHERE model = 'ensemble' AND date >= ? "
        "AND date < ?) "
        "SELECT f.ticker, count(*) AS missing FROM features f JOIN first ON f.date >= first.d "
        "LEFT JOIN c ON c.ticker = f.ticker AND c.date = f.date AND c.horizon = first.horizon "
        "WHERE f.date >= ? AND f.date < ? AND c.ticker IS NULL GROUP BY f.ticker ORDER BY f.ticker",
        [end, start, end, start, end],
    )
    total = int(missing["missing"].sum()) if len(missing) else 0
    return alert_if_blocked(
        context,
        settings,
        warehouse,
        dg.AssetCheckResult(
            passed=total == 0,
            metadata={
                "missing_forecasts": total,
                "missing_by_ticker": dg.MetadataValue.json(_per_ticker(missing, "missing") if total else {}),
            },
        ),
    )


@dg.asset_check(
    asset=models,
    blocking=True,
    description="Purge guard: each model's last training target was realized before its first use.",
)
@holding_warehouse
def purge_guard(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.AssetCheckResult:
    cfg = settings.config
    registry = warehouse.query(
        "SELECT model_id, horizon, train_end, valid_from, fit_end, validation_start FROM model_registry "
        "WHERE config_hash = ?",
        [cfg.fingerprint(*MODEL_LINEAGE_SECTIONS)],
    )
    calendar = warehouse.query("SELECT DISTINCT date FROM prices ORDER BY date")
    if registry.empty:
        return dg.AssetCheckResult(passed=True, metadata={"models": 0})
    days = pd.DatetimeIndex(pd.to_datetime(calendar["date"]))
    # The target of train_end is realized at the close `horizon` trading days later; that close plus the
    # embargo must come strictly before valid_from, the first close the model forecasts at. Likewise the
    # last fit row against the validation window (where the registry records them).
    gap = registry["horizon"].to_numpy() + cfg.models.embargo_days
    end_pos = days.searchsorted(pd.to_datetime(registry["train_end"]))
    use_pos = days.searchsorted(pd.to_datetime(registry["valid_from"]))
    leak = end_pos + gap >= use_pos
    both = (registry["fit_end"].notna() & registry["validation_start"].notna()).to_numpy()
    fit_pos = days.searchsorted(pd.to_datetime(registry["fit_end"]))
    val_pos = days.searchsorted(pd.to_datetime(registry["validation_start"]))
    leak |= both & (fit_pos + gap >= val_pos)
    leaking = registry[leak]
    return alert_if_blocked(
        context,
        settings,
        warehouse,
        dg.AssetCheckResult(
            passed=leaking.empty,
            metadata={
                "models": len(registry),
                "leaking_models": dg.MetadataValue.json(list(leaking["model_id"])),
            },
        ),
    )


@window_check(
    prices,
    blocking=False,
    description=f"Freshness against the run's partitions: every ticker with a close in the "
    f"{LIVE_SESSIONS} sessions up to the range's last session has one no more than "
    f"{STALE_AFTER_SESSIONS} sessions before it (XNYS calendar).",
)
def prices_fresh(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
    start, end = run_window(context)
    days = sessions(start - dt.timedelta(days=LIVE_SESSIONS * 2), end).values
    if not len(days) or days[-1] < np.datetime64(start, "ns"):
        return dg.AssetCheckResult(passed=True, metadata={"reason": "no trading session in the partitions"})
    last = pd.Timestamp(days[-1])
    newest = warehouse.query(
        "SELECT ticker, max(date) AS newest FROM prices WHERE date <= ? GROUP BY ticker ORDER BY ticker",
        [last.date()],
    )
    if newest.empty:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"reason": f"no prices up to {last.date()}"},
        )
    # Sessions after the ticker's newest close, up to the last session of the run.
    lag = len(days) - np.searchsorted(days, pd.to_datetime(newest["newest"]).to_numpy(), side="right")
    live = lag < LIVE_SESSIONS
    stale = {
        str(t): int(n)
        for t, n, ok in zip(newest["ticker"], lag, live, strict=True)
        if ok and n > STALE_AFTER_SESSIONS
    }
    ended = sorted(str(t) for t, ok in zip(newest["ticker"], live, strict=True) if not ok)
    reason = (
        f"{len(stale)} ticker(s) more than {STALE_AFTER_SESSIONS} sessions behind {last.date()}"
        if stale
        else f"every live ticker priced within {STALE_AFTER_SESSIONS} sessions of {last.date()}"
    )
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "reason": reason,
            "last_session": str(last.date()),
            "stale_tickers": dg.MetadataValue.json(stale),
            "ended_series": dg.MetadataValue.json(ended),
        },
    )
