"""allocations: the barbell's target weights at each close, with sleeves and reason codes; in ML mode
the volatility target and the risky sleeve's volatilities come from the chosen risk forecast."""

import dataclasses

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.risk_forecasts import chosen_volatility
from portfolio_dagster.assets.signals import signals
from portfolio_dagster.assets.stage import DECISIONS, StageContext, daily_stage
from portfolio_dagster.partitions import PARTITIONS_START, trading_days_before
from portfolio_dagster.quant.allocation import MarketInputs, PriorState, allocate
from portfolio_dagster.quant.allocation_reasons import control_shares
from portfolio_dagster.quant.cash import with_uninvested_cash
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.report import markdown_table
from portfolio_dagster.quant.signals import ML, SIGNAL_COLUMNS
from portfolio_dagster.resources.operations_state import EMERGENCY, active_periods
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

LATEST_TABLE_MAX_DATES = 31


@daily_stage(
    phase=DECISIONS,
    group_name="strategy",
    kinds={"duckdb", "pandas"},
    deps=[signals],
    description="Barbell weights per close (see quant/allocation.py). The risky sleeve is optimized "
    "only on the rebalance schedule (backtest.rebalance) and carried between; the daily "
    "controls (emergency, drawdown) act on every date. A range resumes from the stored "
    "allocations before it.",
)
def allocations(
    context: StageContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    cfg = settings.config
    s, ops = cfg.strategy, cfg.operations
    start, end = context.window
    lookback = trading_days_before(start, s.signal_horizon + ops.skill_window_days + s.persistence_days + 5)
    sig = warehouse.query(
        "SELECT * FROM signals WHERE date >= ? AND date < ? ORDER BY date, ticker", [lookback, end]
    )
    # The emergency state in force at each date (a history: a later change never moves an earlier date).
    # It comes from the ML forecasts' decayed skill, so it binds only a product that trades on them.
    periods = active_periods(warehouse, EMERGENCY) if s.mode == ML else ()
    market = market_inputs(warehouse, cfg, end, sig, periods)
    close = market.close
    dates = close.index[close.index >= pd.Timestamp(start)]
    if s.mode == ML:
        market = dataclasses.replace(market, risk=chosen_volatility(warehouse, s.signal_horizon, start, end))
    table = allocate(dates, market, s, _prior(warehouse, start, s.drawdown_days, s.safe_assets[0]))
    warehouse.replace_range("allocations", table, start, end)
    latest = table[table["date"] == table["date"].max()] if len(table) else table
    shares = control_shares(table, s.safe_assets[0])
    metadata = {
        "rows": len(table),
        "dates": int(table["date"].nunique()) if len(table) else 0,
        "share_of_days_under_control": dg.MetadataValue.json(shares),
    }
    # Dagster copies the metadata onto every partition's event: the latest table only for short ranges
    # (the daily run); after a backfill `pmx report` and the latest_allocations view show it.
    if metadata["dates"] <= LATEST_TABLE_MAX_DATES:
        metadata["latest"] = dg.MetadataValue.md(markdown_table(latest) if len(latest) else "none")
    return dg.MaterializeResult(metadata=metadata)


def market_inputs(
    warehouse: Warehouse, cfg, end, signals: pd.DataFrame, emergency_periods: tuple = ()
) -> MarketInputs:
    """What allocate() reads before `end`: whole-history closes (regime severities and volatility are
    learned from every date <= d, so a value does not depend on where a range starts), the safe
    sleeve, regimes and the given signals."""
    s, ops = cfg.strategy, cfg.operations
    # From the first stored price, not the run's data.start: a re-run over a late range sees the same past.
    close = warehouse.universe_panels(PARTITIONS_START, end, cfg)["close"]
    if close.empty:
        raise dg.Failure("no universe prices: materialize prices first")
    safe = warehouse.query(
        "SELECT ticker, date, close FROM prices WHERE ticker IN (SELECT unnest(?)) "
        "AND date < ? ORDER BY date",
        [list(s.safe_assets), end],
    )
    safe["date"] = pd.to_datetime(safe["date"])
    safe_close = wide(safe, "close") if len(safe) else pd.DataFrame(index=close.index)
    if s.uninvested_cash:
        safe_close = with_uninvested_cash(
            safe_close.reindex(close.index.union(safe_close.index)), s.safe_assets[0]
        )
    reg = warehouse.query(
        "SELECT date, state, probabilities FROM regimes WHERE date < ? ORDER BY date", [end]
    )
    return MarketInputs(
        close=close,
        safe_close=safe_close,
        regimes=reg if len(reg) else pd.DataFrame(columns=["date", "state", "probabilities"]),
        signals=signals if len(signals) else pd.DataFrame(columns=list(SIGNAL_COLUMNS)),
        horizon=s.signal_horizon,
        accuracy_window=ops.skill_window_days,
        emergency_below=ops.emergency_below,
        rebalance=cfg.backtest.rebalance,
        emergency_periods=emergency_periods,
    )


def _prior(warehouse: Warehouse, start, drawdown_days: int, cash_ticker: str) -> PriorState:
    """The stored allocations before `start` over the drawdown window: where this range resumes."""
    rows = warehouse.query(
        "SELECT date, ticker, weight, policy_weight, reasons FROM allocations WHERE date < ? "
        "AND date >= ? ORDER BY date",
        [start, trading_days_before(start, drawdown_days + 5)],
    )
    if rows.empty:
        return PriorState()
    rows["date"] = pd.to_datetime(rows["date"])
    weights = rows.pivot(index="date", columns="ticker", values="weight").fillna(0.0)
    last = rows[rows["date"] == rows["date"].max()]
    cash = last[last["ticker"] == cash_ticker]["reasons"]
    codes = frozenset(cash.iat[0].split(",")) if len(cash) and cash.iat[0] else frozenset()
    return PriorState(
        policy=last.set_index("ticker")["policy_weight"].fillna(0.0), weights=weights, codes=codes
    )
