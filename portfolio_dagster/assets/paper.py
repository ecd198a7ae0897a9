"""paper_ledger: the trading rule applied one session at a time to a book of shares and cash.

Self-dependent: session d starts from the ledger after d-1, so a range is booked in date order.
Append-only: a session already booked is read, never rewritten (only `pmx paper reset` deletes); a
session is written in one transaction, so a kill mid-session leaves the previous one intact.
"""

import dataclasses
import datetime as dt
import hashlib

import dagster as dg
import numpy as np
import pandas as pd

from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.backtest import evaluation_inputs
from portfolio_dagster.assets.stage import OPERATIONS, StageContext, daily_stage
from portfolio_dagster.quant import risk_controls
from portfolio_dagster.quant.allocation_reasons import daily_controls
from portfolio_dagster.quant.backtest import market_panels
from portfolio_dagster.quant.corporate_actions import (
    ADJUSTMENT_COLUMNS,
    RESTATEMENT,
    apply_actions,
    as_traded_multipliers,
    by_priority,
)
from portfolio_dagster.quant.costs import IMPACT_WINDOW_DAYS, CostModel, impact_inputs
from portfolio_dagster.quant.evaluation import product_run
from portfolio_dagster.quant.ledger import ORDER_COLUMNS, PriorSession, SessionInputs, book_session
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.report import markdown_table
from portfolio_dagster.quant.trading import TradingRule
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

PAPER_LEDGER = dg.AssetKey("paper_ledger")
# Session d depends on the ledger after session d-1.
PREVIOUS_SESSION = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
PAPER_TABLES = (
    "paper_orders",
    "paper_fills",
    "paper_positions",
    "paper_account",
    "decision_runs",
    "paper_adjustments",
)
# Calendar days of prices read before a session: the impact window (21 sessions) and holidays.
_PRICE_WINDOW_DAYS = 45


@daily_stage(
    key=PAPER_LEDGER,
    phase=OPERATIONS,
    history=False,
    group_name="operations",
    kinds={"duckdb", "pandas"},
    deps=[allocations, dg.AssetDep(PAPER_LEDGER, partition_mapping=PREVIOUS_SESSION)],
    description="Paper trading: each session fills the orders decided at the previous close (open, "
    "else close), marks the book at the close and orders toward the day's allocation "
    "(quant/trading.py, the backtest's rule). Append-only: booked sessions are never rewritten.",
)
def paper_ledger(
    context: StageContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = context.window
    prior = read_prior(warehouse)
    days = warehouse.query(
        "SELECT DISTINCT date FROM allocations WHERE date >= ? AND date < ? ORDER BY date",
        [min(prior.date or start, start), end],
    )
    days = [pd.Timestamp(d).date() for d in days["date"]] if len(days) else []
    sessions = [d for d in days if d >= start and (prior.date is None or d > prior.date)]
    already = sum(1 for d in days if d >= start and prior.date is not None and d <= prior.date)
    if sessions and prior.date is not None:
        expected = [d for d in days if d > prior.date][0]
        if sessions[0] != expected:
            raise dg.Failure(
                f"paper ledger is booked through {prior.date}; book {expected} first "
                f"(pmx replay --start {expected}) before {sessions[0]}"
            )
    shadow = _shadow(warehouse, cfg, end) if sessions else pd.Series(dtype=float)
    rule = TradingRule(
        CostModel(
            cfg.backtest.cost_bps,
            cfg.backtest.half_spread_bps,
            cfg.backtest.impact_coefficient,
            cfg.backtest.aum_usd,
        ),
        fractional=cfg.paper.fractional_shares,
        max_position=cfg.strategy.max_position,
        cap_tolerance=cfg.backtest.cap_tolerance,
    )
    for d in sessions:
        prior, adjustments = _after_actions(warehouse, cfg, prior, d)
        decision = decision_row(warehouse, cfg, d, context.run_id)
        inputs = session_inputs(warehouse, cfg, prior, d, shadow, decision["decision_id"].iat[0])
        booked = book_session(prior, inputs, rule, cfg.paper.initial_cash_usd)
        account = pd.DataFrame(
            [
                booked.account
                | {"run_id": context.run_id, "booked_at": pd.Timestamp.now(tz="UTC").tz_localize(None)}
            ]
        )
        warehouse.append_all(
            [
                ("paper_orders", booked.orders),
                ("paper_fills", booked.fills),
                ("paper_positions", booked.positions),
                ("paper_account", account),
                ("decision_runs", decision),
                ("paper_adjustments", adjustments),
            ]
        )
        prior = PriorSession(
            date=d,
            quantity=booked.positions.set_index("ticker")["quantity"],
            cash=booked.account["cash_usd"],
            nav=booked.account["nav_usd"],
            orders=booked.orders,
            control=inputs.control,
        )
    return dg.MaterializeResult(metadata=_metadata(warehouse, len(sessions), already))


def _after_actions(
    warehouse: Warehouse, cfg, prior: PriorSession, d: dt.date
) -> tuple[PriorSession, pd.DataFrame]:
    """The prior state carried into session d after the corporate actions effective at its open (ex-dates
    after the last booked session, up to d), and the adjusting rows that record them."""
    if prior.date is None:
        return prior, pd.DataFrame(columns=ADJUSTMENT_COLUMNS)
    actions = warehouse.query(
        "SELECT ticker, date, kind, ratio, amount, source FROM corporate_actions "
        "WHERE date > ? AND date <= ? ORDER BY ticker, date, kind, source",
        [prior.date, d],
    )
    if actions.empty:
        return prior, pd.DataFrame(columns=ADJUSTMENT_COLUMNS)
    # Several sources report the same action: the one of the first source in data.sources.
    actions = by_priority(actions, cfg.data.sources)
    # A re-basing that a split or dividend of the same ex-date explains is that action, applied once (the
    # ledger holds real shares valued at the prices that traded); only an unexplained one re-bases shares.
    restated = actions["kind"] == RESTATEMENT
    events = set(zip(actions.loc[~restated, "ticker"], actions.loc[~restated, "date"], strict=True))
    keys = zip(actions["ticker"], actions["date"], strict=True)
    explained = restated & pd.Series([k in events for k in keys], index=actions.index)
    actions = actions[~explained]
    book = apply_actions(prior.quantity, prior.cash, prior.orders, actions, d)
    return dataclasses.replace(
        prior, quantity=book.quantity, cash=book.cash, orders=book.orders
    ), book.adjustments


def read_prior(warehouse: Warehouse) -> PriorSession:
    """The ledger after its last booked session (an empty PriorSession when nothing is booked)."""
    last = warehouse.query("SELECT * FROM paper_account ORDER BY date DESC LIMIT 1")
    if last.empty:
        return PriorSession(
            None, pd.Series(dtype=float), 0.0, None, pd.DataFrame(columns=ORDER_COLUMNS), None
        )
    d = pd.Timestamp(last["date"].iat[0]).date()
    held = warehouse.query("SELECT ticker, quantity FROM paper_positions WHERE date = ?", [d])
    orders = warehouse.query("SELECT * FROM paper_orders WHERE date = ?", [d])
    # The controls the ledger decided under (allocations of that day may have been re-decided since).
    return PriorSession(
        date=d,
        quantity=held.set_index("ticker")["quantity"] if len(held) else pd.Series(dtype=float),
        cash=float(last["cash_usd"].iat[0]),
        nav=float(last["nav_usd"].iat[0]),
        orders=orders if len(orders) else pd.DataFrame(columns=ORDER_COLUMNS),
        control=str(last["controls"].iat[0]),
    )


def session_inputs(
    warehouse: Warehouse, cfg, prior: PriorSession, d: dt.date, shadow: pd.Series, decision_id: str
) -> SessionInputs:
    """Everything session `d` needs, known at its close: the prior's and d's prices, d's allocation."""
    cash, benchmark = cfg.strategy.safe_assets[0], cfg.data.benchmark
    alloc = warehouse.query("SELECT date, ticker, weight, reasons FROM allocations WHERE date = ?", [d])
    tickers = sorted(set(alloc["ticker"]) | set(prior.quantity.index) | set(prior.orders["ticker"]))
    if cfg.strategy.uninvested_cash:
        # Uninvested cash is never bought: its weight stays in the account's cash_usd.
        tickers = [t for t in tickers if t != cash]
    px = warehouse.query(
        "SELECT ticker, date, open, close, volume FROM prices WHERE ticker IN (SELECT unnest(?)) "
        "AND date > ? AND date <= ? ORDER BY date",
        [tickers + [benchmark], d - dt.timedelta(_PRICE_WINDOW_DAYS), d],
    )
    # Series that ended before the window (a safe-sleeve proxy) are carried at their last close.
    last = warehouse.query(
        "SELECT ticker, arg_max(close, date) AS close, max(date) AS date FROM prices "
        "WHERE ticker IN (SELECT unnest(?)) AND date <= ? GROUP BY ticker",
        [tickers, d],
    )
    px["date"], last["date"] = pd.to_datetime(px["date"]), pd.to_datetime(last["date"])
    seed = last[~last.set_index(["ticker", "date"]).index.isin(px.set_index(["ticker", "date"]).index)]
    panel = pd.concat([seed.assign(open=np.nan, volume=np.nan), px], ignore_index=True)
    close, opens, volume = (
        wide(panel, c).reindex(columns=tickers + [benchmark]) for c in ("close", "open", "volume")
    )
    close, opens = _as_traded(warehouse, close, opens, cfg.data.sources)
    rows = pd.DatetimeIndex([pd.Timestamp(x) for x in ([prior.date] if prior.date else []) + [d]])
    impact = impact_inputs(close, volume, IMPACT_WINDOW_DAYS, cfg.backtest.fallback_adv_usd)
    market = market_panels(close[tickers], rows, tickers, opens[tickers], impact)
    weights = alloc.set_index("ticker")["weight"].reindex(tickers).fillna(0.0).to_numpy()
    control = daily_controls(alloc, cash)
    bench = close[benchmark].ffill() if benchmark in close else pd.Series(dtype=float)
    bench_return = (
        float(bench.get(rows[-1]) / bench.get(rows[0]) - 1.0)
        if prior.date and rows[0] in bench.index and rows[-1] in bench.index
        else None
    )
    safe = set(cfg.strategy.safe_assets)
    shadow_value = shadow.get(pd.Timestamp(d))
    return SessionInputs(
        session=d,
        assets=tickers,
        market=market,
        target=weights,
        scheduled=bool(risk_controls.rebalance_days(pd.DatetimeIndex([d]), cfg.backtest.rebalance)[0]),
        control=control.iat[0] if len(control) else "",
        capped=np.array([t not in safe and t != benchmark for t in tickers]),
        decision_id=decision_id,
        benchmark_return=bench_return,
        backtest_return=None if shadow_value is None or pd.isna(shadow_value) else float(shadow_value),
    )


def _as_traded(
    warehouse: Warehouse, close: pd.DataFrame, opens: pd.DataFrame, sources: list[str]
) -> tuple[pd.DataFrame, ...]:
    """The adjusted panels as the prices that traded on their dates: the ledger holds real shares, to which
    a split and a dividend are applied on the ex-date, so it values them at the prices of the day."""
    actions = warehouse.query(
        "SELECT a.ticker, a.date, a.kind, a.ratio, a.amount, a.source, "
        "(SELECT arg_max(p.close, p.date) FROM prices p "
        "WHERE p.ticker = a.ticker AND p.date < a.date) AS close_before FROM corporate_actions a "
        "WHERE a.kind IN ('split', 'dividend') AND a.ticker IN (SELECT unnest(?)) AND a.date > ? "
        "ORDER BY a.ticker, a.date",
        [list(close.columns), close.index.min().date()],
    )
    if actions.empty:
        return close, opens
    actions = by_priority(actions, sources).reset_index(drop=True)
    factors = as_traded_multipliers(close.index, actions, actions["close_before"])
    factors = factors.reindex(columns=close.columns, fill_value=1.0)
    return close * factors, opens * factors


def decision_row(warehouse: Warehouse, cfg, d: dt.date, run_id: str) -> pd.DataFrame:
    """The decision taken at the close of d (a decision_runs row): the run, the config and the model
    sets whose forecasts it read; decision_id hashes them."""
    ids = warehouse.query("SELECT DISTINCT model_id FROM forecasts WHERE date = ? ORDER BY model_id", [d])
    model_ids = ",".join(ids["model_id"]) if len(ids) else ""
    config_hash = cfg.fingerprint()
    decision_id = hashlib.sha256(f"{d}|{config_hash}|{model_ids}|{run_id}".encode()).hexdigest()[:16]
    return pd.DataFrame(
        [
            {
                "decision_id": decision_id,
                "date": d,
                "run_id": run_id,
                "config_hash": config_hash,
                "model_ids": model_ids,
            }
        ]
    )


def _shadow(warehouse: Warehouse, cfg, end: dt.date) -> pd.Series:
    """The backtest's ml_barbell net return per day before `end`: the same function on the same
    allocations, so day d's value is the backtest's (it uses nothing after d)."""
    try:
        inputs = evaluation_inputs(warehouse, cfg, end=end, full=False)
    except dg.Failure:
        return pd.Series(dtype=float)  # no allocations from backtest.start: no shadow
    daily = product_run(inputs).daily
    return daily.set_index("date")["net_return"]


def _metadata(warehouse: Warehouse, booked: int, already: int) -> dict:
    account = warehouse.query("SELECT * FROM paper_account ORDER BY date DESC LIMIT 1")
    meta: dict = {"sessions_booked": booked, "sessions_already_booked": already}
    if account.empty:
        return meta
    d = account["date"].iat[0]
    held = warehouse.query(
        "SELECT ticker, quantity, price, market_value_usd, weight FROM paper_positions "
        "WHERE date = ? ORDER BY market_value_usd DESC",
        [d],
    )
    meta |= {
        "date": str(pd.Timestamp(d).date()),
        "nav_usd": dg.MetadataValue.float(float(account["nav_usd"].iat[0])),
        "cash_usd": dg.MetadataValue.float(float(account["cash_usd"].iat[0])),
        "holdings": dg.MetadataValue.md(markdown_table(held.round(4)) if len(held) else "no holdings"),
    }
    return meta
