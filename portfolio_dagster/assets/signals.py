"""signals: expected return, confidence and fractional Kelly size per (ticker, date). rule_based: 12-1
momentum. ml (strategy.mode ml): the rule's expected return plus the ensemble's skill-scaled alpha (score x
calibration IC x forecast volatility), Kelly-sized with the chosen risk forecast on the covariance's
diagonal (quant/alpha.py, quant/ml_risk.py)."""

import json

import dagster as dg
import numpy as np
import pandas as pd

from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.regimes import regimes
from portfolio_dagster.assets.risk_forecasts import chosen_volatility, risk_forecasts
from portfolio_dagster.assets.stage import DECISIONS, StageContext, daily_stage
from portfolio_dagster.partitions import trading_days_before
from portfolio_dagster.quant.signals import ML, MOMENTUM_DAYS, RULE_BASED, build_signals
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@daily_stage(
    phase=DECISIONS,
    group_name="strategy",
    kinds={"duckdb", "pandas"},
    deps=[forecasts, regimes, risk_forecasts],
)
def signals(context: StageContext, settings: PipelineSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    s = cfg.strategy
    start, end = context.window
    ensemble = ml_forecasts(warehouse, s.signal_horizon, start, end) if s.mode == ML else pd.DataFrame()
    history = trading_days_before(start, max(s.covariance_days, MOMENTUM_DAYS) + 30)
    close = warehouse.universe_panels(history, end, cfg)["close"]
    dates = close.index[close.index >= pd.Timestamp(start)] if len(close) else pd.DatetimeIndex([])
    table = build_signals(
        ensemble,
        close,
        dates,
        mode=s.mode,
        horizon=s.signal_horizon,
        kelly_fraction=s.kelly_fraction,
        covariance_days=s.covariance_days,
        volatility=chosen_volatility(warehouse, s.signal_horizon, start, end) if s.mode == ML else None,
        skill_alpha=s.mode == ML,
    )
    warehouse.replace_range("signals", table, start, end)
    rule_share = float((table["source"] == RULE_BASED).mean()) if len(table) else 0.0
    return dg.MaterializeResult(
        metadata={
            "rows": len(table),
            "dates": int(table["date"].nunique()) if len(table) else 0,
            "mode": s.mode,
            "rule_based_share": rule_share,
        }
    )


def ml_forecasts(warehouse: Warehouse, horizon: int, start, end) -> pd.DataFrame:
    """The ensemble's forecasts at `horizon` dated start <= date < end with their model set's calibration
    IC (`ic`, the skill_alpha input): ticker, date, prediction, lower, upper, model_id, ic."""
    fc = warehouse.query(
        "SELECT ticker, date, prediction, lower, upper, model_id FROM forecasts WHERE model = 'ensemble' "
        "AND horizon = ? AND date >= ? AND date < ? ORDER BY date, ticker",
        [horizon, start, end],
    )
    return fc.merge(calibration_ic(warehouse), on="model_id", how="left") if len(fc) else fc


def calibration_ic(warehouse: Warehouse) -> pd.DataFrame:
    """model_id, ic: each ensemble's IC on its calibration window (out of sample for that model set,
    measured before the set's valid_from)."""
    reg = warehouse.query("SELECT model_id, metrics FROM model_registry WHERE model_type = 'ensemble'")
    ic = [json.loads(m).get("validation_ic", float("nan")) if m else float("nan") for m in reg["metrics"]]
    return pd.DataFrame({"model_id": reg["model_id"].to_numpy(), "ic": np.asarray(ic, dtype=float)})
