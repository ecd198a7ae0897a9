"""The paper ledger's bookkeeping: one session of the trading rule as table rows, and reconciliation.

A session d is booked from the ledger's state after the close of d-1 (shares, cash, the orders decided
then): those orders fill on d, the book is marked at d's close, and the orders decided at d's close
are recorded (they fill on d+1). Frames in, frames out; the paper asset does the I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio_dagster.quant.trading import Book, BookRun, Decisions, Market, TradingRule, run_book

ORDER_COLUMNS = [
    "date",
    "ticker",
    "side",
    "quantity",
    "reference_price",
    "target_weight",
    "previous_weight",
    "reason",
    "decision_id",
]
FILL_COLUMNS = [
    "order_date",
    "date",
    "ticker",
    "side",
    "quantity",
    "ordered_quantity",
    "price",
    "commission_usd",
    "spread_usd",
    "impact_usd",
    "slippage_bps",
    "status",
    "reason",
]
POSITION_COLUMNS = ["date", "ticker", "quantity", "price", "market_value_usd", "weight"]
# Relative NAV tolerance of the reconciliation (nav = cash + sum of quantity x price).
RECONCILE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PriorSession:
    """The ledger after the close of its last booked session (None fields: the ledger is empty)."""

    date: dt.date | None
    quantity: pd.Series  # ticker -> shares
    cash: float
    nav: float | None
    orders: pd.DataFrame  # ORDER_COLUMNS decided at `date` (they fill on the next session)
    control: str | None  # the daily controls in force at `date` (None: never traded)


@dataclass(frozen=True)
class SessionInputs:
    """Prices on rows [prior date, session] (just [session] for the first): last known closes, the
    session's fill prices (open, else close) and impact inputs; the session's decision."""

    session: dt.date
    assets: list[str]
    market: Market
    target: np.ndarray  # weights decided at the session's close, over `assets`
    scheduled: bool
    control: str
    capped: np.ndarray
    decision_id: str
    benchmark_return: float | None = None
    backtest_return: float | None = None


@dataclass(frozen=True)
class BookedSession:
    """One booked paper session: its orders, fills, positions and account row."""

    orders: pd.DataFrame
    fills: pd.DataFrame
    positions: pd.DataFrame
    account: dict


def book_session(
    prior: PriorSession, inp: SessionInputs, rule: TradingRule, initial_cash: float
) -> BookedSession:
    """Run the trading rule for one session from the prior state."""
    assets, n = inp.assets, len(inp.assets)
    first = prior.date is None
    quantity = prior.quantity.reindex(assets).fillna(0.0).to_numpy(dtype=float)
    book = Book(quantity, initial_cash if first else prior.cash)
    rows = 1 if first else 2
    target = np.full((rows, n), np.nan)
    target[-1] = inp.target
    decisions = Decisions(
        target=target,
        scheduled=np.array([inp.scheduled] * rows),
        control=np.array([inp.control] * rows, dtype=object),
        capped=inp.capped,
        previous_control=None if first else prior.control,
    )
    pending = None if first else _signed(prior.orders, assets)
    run = run_book(inp.market, decisions, rule, book, pending=pending, record=True, assets=assets)
    last = rows - 1
    nav = float(run.nav[last])
    closes = np.nan_to_num(inp.market.close[last], nan=0.0)
    held = run.quantity[last]
    positions = pd.DataFrame(
        {
            "date": inp.session,
            "ticker": assets,
            "quantity": held,
            "price": closes,
            "market_value_usd": held * closes,
        }
    )
    positions = positions[positions["quantity"] != 0].assign(
        weight=lambda f: f["market_value_usd"] / nav if nav else 0.0
    )[POSITION_COLUMNS]
    fills = _fills(run, prior, inp) if not first else pd.DataFrame(columns=FILL_COLUMNS)
    orders = pd.DataFrame(
        [
            {**o, "date": inp.session, "ticker": o["asset"], "decision_id": inp.decision_id}
            for o in run.orders
            if o["row"] == last
        ],
        columns=ORDER_COLUMNS,
    )
    previous_nav = prior.nav if not first else None
    account = {
        "date": inp.session,
        "cash_usd": float(run.cash[last]),
        "positions_value_usd": float(positions["market_value_usd"].sum()),
        "nav_usd": nav,
        "daily_return": nav / previous_nav - 1.0 if previous_nav else None,
        "turnover": float(run.traded_usd[last] / previous_nav) if previous_nav else 0.0,
        "costs_usd": float(run.linear_usd[last] + run.impact_usd[last]),
        "benchmark_return": inp.benchmark_return,
        "backtest_return": inp.backtest_return,
        "decision_id": inp.decision_id,
        "controls": inp.control,
    }
    return BookedSession(orders=orders[ORDER_COLUMNS], fills=fills, positions=positions, account=account)


def _signed(orders: pd.DataFrame, assets: list[str]) -> np.ndarray:
    if orders.empty:
        return np.zeros(len(assets))
    signed = orders["quantity"].where(orders["side"] == "buy", -orders["quantity"])
    return pd.Series(signed.to_numpy(), index=orders["ticker"]).reindex(assets).fillna(0.0).to_numpy()


def _fills(run: BookRun, prior: PriorSession, inp: SessionInputs) -> pd.DataFrame:
    reference = (
        prior.orders.set_index("ticker")["reference_price"] if len(prior.orders) else pd.Series(dtype=float)
    )
    rows = []
    for f in run.fills:
        side = "buy" if f["ordered"] > 0 else "sell"
        ref = reference.get(f["asset"], np.nan)
        price = f["price"]
        slip = None if price is None or not ref else (price / ref - 1.0) * 1e4 * (1 if side == "buy" else -1)
        rows.append(
            {
                "order_date": prior.date,
                "date": inp.session,
                "ticker": f["asset"],
                "side": side,
                "quantity": abs(f["quantity"]),
                "ordered_quantity": abs(f["ordered"]),
                "price": price,
                "commission_usd": f["commission_usd"],
                "spread_usd": f["spread_usd"],
                "impact_usd": f["impact_usd"],
                "slippage_bps": slip,
                "status": f["status"],
                "reason": f["reason"],
            }
        )
    return pd.DataFrame(rows, columns=FILL_COLUMNS)


def reconcile(
    account: pd.DataFrame,
    positions: pd.DataFrame,
    fills: pd.DataFrame,
    orders: pd.DataFrame,
    tolerance: float = RECONCILE_TOLERANCE,
) -> list[str]:
    """Problems found in the ledger (empty: it reconciles): nav = cash + sum(quantity x price) to
    `tolerance` relative, cash >= 0, quantities >= 0, every fill traces to an order."""
    problems = []
    value = (
        positions.assign(v=positions["quantity"] * positions["price"]).groupby("date")["v"].sum()
        if len(positions)
        else pd.Series(dtype=float)
    )
    acc = account.set_index("date")
    expected = acc["cash_usd"] + value.reindex(acc.index).fillna(0.0)
    off = (acc["nav_usd"] - expected).abs() > tolerance * acc["nav_usd"].abs().clip(lower=1.0)
    for d in acc.index[off.to_numpy()]:
        problems.append(f"{_day(d)}: nav {acc.at[d, 'nav_usd']:.2f} != cash + positions {expected[d]:.2f}")
    for d in acc.index[(acc["cash_usd"] < 0).to_numpy()]:
        problems.append(f"{_day(d)}: negative cash {acc.at[d, 'cash_usd']:.2f}")
    negative = positions[positions["quantity"] < 0]
    for row in negative.itertuples():
        problems.append(f"{_day(row.date)}: negative quantity {row.quantity} of {row.ticker}")
    if len(fills):
        keys = (
            set(zip(pd.to_datetime(orders["date"]), orders["ticker"], strict=True)) if len(orders) else set()
        )
        for row in fills.itertuples():
            if (pd.Timestamp(row.order_date), row.ticker) not in keys:
                problems.append(
                    f"{_day(row.date)}: fill of {row.ticker} has no order on {_day(row.order_date)}"
                )
    return problems


def _day(value) -> str:
    return pd.Timestamp(value).date().isoformat()
