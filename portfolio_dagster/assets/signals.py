"""signals: expected return, confidence and fractional Kelly size per (ticker, date); ML from the
ensemble forecasts where they exist (strategy.mode ml), rule-based momentum elsewhere."""

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.regimes import regimes
from portfolio_dagster.assets.stage import DECISIONS, StageContext, daily_stage
from portfolio_dagster.partitions import trading_days_before
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.signals import MOMENTUM_DAYS, RULE_BASED, build_signals
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


@daily_stage(
    phase=DECISIONS,
    group_name="strategy",
    kinds={"duckdb", "pandas"},
    deps=[forecasts, regimes],
)
def signals(context: StageContext, settings: PipelineSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    s = cfg.strategy
    start, end = context.window
    ensemble = warehouse.query(
        "SELECT ticker, date, prediction, lower, upper FROM forecasts "
        "WHERE model = 'ensemble' AND horizon = ? AND date >= ? AND date < ? ORDER BY date, ticker",
        [s.signal_horizon, start, end],
    )
    history = trading_days_before(start, max(s.covariance_days, MOMENTUM_DAYS) + 30)
    px = warehouse.universe_prices(history, end, cfg, columns="ticker, date, close")
    close = wide(px, "close") if len(px) else pd.DataFrame()
    dates = close.index[close.index >= pd.Timestamp(start)] if len(close) else pd.DatetimeIndex([])
    table = build_signals(
        ensemble,
        close,
        dates,
        mode=s.mode,
        horizon=s.signal_horizon,
        kelly_fraction=s.kelly_fraction,
        covariance_days=s.covariance_days,
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
