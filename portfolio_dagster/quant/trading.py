"""The one trading rule: from a book (shares + cash), target weights and the next session's prices to
orders, fills and the book after them. The backtest and the paper ledger both run `run_book`, so they
differ only by share rounding and start date.

Conventions:
- A decision at the close of row d sizes orders from the book and the (last known) closes of d:
  desired shares = weight x NAV(d) / close(d), whole shares rounded toward zero unless fractional.
- The orders fill on the next session d+1 at its open where the data has opens, else its close. Where
  the session has no price the fill uses the last known close and says so (`stale_price`); an asset
  never priced is rejected.
- Sells first; then buys, scaled down together so cash never goes negative (`cash_limited`, partial).
- Costs come out of cash at the fill: commission + half-spread (bps of traded value) + square-root
  impact Y x sigma x sqrt(traded $ / ADV $) x traded $ (sigma, ADV known at the decision's close).
- When to trade (`trigger`): the first decision, each scheduled rebalance, a change in the daily
  controls in force (emergency stop, drawdown de-risk, volatility breach: a new target between
  rebalances), and a capped holding that drifted above max_position x (1 + cap_tolerance) (that
  position alone is trimmed back to its target).
- Long only: targets are clipped at 0 and sells never exceed the shares held.
The loop runs over trade events only; valuations between them are one array expression.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from portfolio_dagster.quant.costs import CostModel

# Order reasons (why the book trades after this close).
INITIAL, SCHEDULED, CONTROL, CAP = "initial", "scheduled_rebalance", "control_change", "cap_breach"
# Fill statuses and reasons.
FILLED, PARTIAL, REJECTED = "filled", "partial", "rejected"
CASH_LIMITED, STALE_PRICE, NO_PRICE = "cash_limited", "stale_price", "no_price"
# Cash below zero by float rounding only (relative to NAV) is set to zero.
_CASH_EPS = 1e-9


@dataclass(frozen=True)
class TradingRule:
    """How orders execute: the cost model, whole or fractional shares, the position cap and its tolerance."""

    costs: CostModel
    fractional: bool = True  # False: whole shares (the paper ledger's default)
    max_position: float | None = None  # drift cap of the capped (risky) assets; None: no cap trades
    cap_tolerance: float = 0.0


@dataclass(frozen=True)
class Market:
    """Rows are sessions, columns assets. `close`: last known close (forward-filled; NaN before an
    asset's first price); `fill`: the session's execution price (open, else close; NaN without one).
    sigma/adv: trailing daily volatility and dollar volume at each close (None: no impact)."""

    close: np.ndarray
    fill: np.ndarray
    sigma: np.ndarray | None = None
    adv: np.ndarray | None = None


@dataclass(frozen=True)
class Decisions:
    """Per row: the target weights decided at that close (a NaN row: no decision), whether it is a
    scheduled rebalance, and the daily controls in force ('' when none). `capped`: assets the drift
    cap applies to. `previous_control`: the controls in force at the row before the first (None: the
    book has never traded, so the first decision trades)."""

    target: np.ndarray
    scheduled: np.ndarray
    control: np.ndarray
    capped: np.ndarray
    previous_control: str | None = None


@dataclass
class Book:
    """Holdings: shares per asset and cash."""

    quantity: np.ndarray
    cash: float

    def value(self, prices: np.ndarray) -> float:
        """Cash + positions at `prices` (NaN-free: 0 where an asset has no price)."""
        return float(self.cash + prices @ self.quantity)


@dataclass
class BookRun:
    """Per row (after the close): nav, cash, quantities; per row, the fills' traded value and costs
    (USD) and the impact per sqrt(NAV) (capacity). Orders/fills are records when asked for."""

    nav: np.ndarray
    cash: np.ndarray
    quantity: np.ndarray
    traded_usd: np.ndarray
    linear_usd: np.ndarray
    impact_usd: np.ndarray
    impact_per_sqrt_nav: np.ndarray
    orders: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    pending: np.ndarray | None = None  # orders decided at the last row (fill after the range)
    pending_reason: str | None = None


def order_quantities(book: Book, target: np.ndarray, close: np.ndarray, fractional: bool) -> np.ndarray:
    """Signed share orders that move `book` to `target` weights at these closes (no order where the
    asset has no price)."""
    priced = np.isfinite(close) & (close > 0)
    nav = book.value(np.where(priced, close, 0.0))
    desired = np.where(priced, np.maximum(target, 0.0) * nav / np.where(priced, close, 1.0), book.quantity)
    if not fractional:
        desired = np.where(priced, np.floor(desired + 1e-9), desired)
    return np.where(priced, desired - book.quantity, 0.0)


def trim_orders(
    book: Book, target: np.ndarray, close: np.ndarray, over: np.ndarray, fractional: bool
) -> np.ndarray:
    """Orders that sell only the positions in `over` back to their target weights."""
    full = order_quantities(book, target, close, fractional)
    return np.where(over & (full < 0), full, 0.0)


@dataclass(frozen=True)
class Execution:
    """What one session executed per asset: shares, prices, costs, and which assets had a price."""

    quantity: np.ndarray  # signed shares executed
    price: np.ndarray
    commission: np.ndarray  # USD per asset
    spread: np.ndarray
    impact: np.ndarray
    priced: np.ndarray  # a fill price exists (the session's or the last close)
    session_priced: np.ndarray  # the session itself had a price
    short: np.ndarray  # a buy filled below its order (cash_limited)
    traded_usd: float  # value traded at the fill prices

    def status(self, j: int) -> tuple[str, str]:
        """(status, reason) of asset j's order (for the records; the loop never needs it)."""
        if not self.priced[j]:
            return REJECTED, NO_PRICE
        why = ([CASH_LIMITED] if self.short[j] else []) + ([] if self.session_priced[j] else [STALE_PRICE])
        return (PARTIAL if self.short[j] else FILLED), ",".join(why)


def execute(
    book: Book,
    orders: np.ndarray,
    fill: np.ndarray,
    last_close: np.ndarray,
    rule: TradingRule,
    sigma: np.ndarray | None = None,
    adv: np.ndarray | None = None,
) -> tuple[Book, Execution]:
    """Fill `orders` at the session's `fill` prices (last close where the session has none): sells
    first, then buys scaled down together so that cash stays >= 0; costs paid from cash."""
    c = rule.costs
    have_fill = np.isfinite(fill) & (fill > 0)
    have_last = np.isfinite(last_close) & (last_close > 0)
    price = np.where(have_fill, fill, np.where(have_last, last_close, np.nan))
    priced = np.isfinite(price)
    qty = np.where(priced, orders, 0.0)
    qty = np.maximum(qty, -book.quantity)  # long only: never sell more than held
    p = np.where(priced, price, 0.0)
    sell, buy = np.minimum(qty, 0.0), np.maximum(qty, 0.0)

    def costs(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        value = np.abs(q) * p
        impact = np.zeros_like(value)
        if sigma is not None and adv is not None and c.impact_coefficient:
            with np.errstate(invalid="ignore", divide="ignore"):
                per = c.impact_coefficient * sigma * np.sqrt(value / adv) * value
            impact = np.where(np.isfinite(per) & (value > 0), per, 0.0)
        return value * c.commission_bps / 1e4, value * c.half_spread_bps / 1e4, impact

    sc, ss, si = costs(sell)
    cash = book.cash - float(sell @ p) - float(sc.sum() + ss.sum() + si.sum())
    bc, bs, bi = costs(buy)
    need_linear = float(buy @ p + bc.sum() + bs.sum())
    need_impact = float(bi.sum())
    if need_linear + need_impact > cash:
        buy = buy * _buy_scale(max(cash, 0.0), need_linear, need_impact)
        if not rule.fractional:
            buy = np.floor(buy + 1e-9)
        bc, bs, bi = costs(buy)
    cash -= float(buy @ p + bc.sum() + bs.sum() + bi.sum())
    if cash < 0 and cash > -_CASH_EPS * max(book.value(p), 1.0):
        cash = 0.0
    executed = sell + buy
    short = (orders > 0) & (executed < orders - 1e-9) & priced
    new = Book(book.quantity + executed, cash)
    return new, Execution(
        executed, price, sc + bc, ss + bs, si + bi, priced, have_fill, short, float(np.abs(executed) @ p)
    )


def _buy_scale(cash: float, linear: float, impact: float) -> float:
    """The largest s in [0, 1] with s x linear + s^1.5 x impact <= cash (both terms increase in s)."""
    if cash <= 0 or linear + impact <= 0:
        return 0.0
    if impact == 0:
        return min(1.0, cash / linear)
    lo, hi = cash / (linear + impact), 1.0  # s^1.5 <= s on [0, 1]: lo is feasible
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mid * linear + mid**1.5 * impact <= cash else (lo, mid)
    return lo


def trigger(scheduled: bool, control: str, previous_control: str | None) -> str | None:
    """Why the book trades after this close (None: it holds)."""
    if previous_control is None:
        return INITIAL
    if control != previous_control:
        return CONTROL
    if scheduled:
        return SCHEDULED
    return None


def run_book(
    market: Market,
    decisions: Decisions,
    rule: TradingRule,
    book: Book,
    pending: np.ndarray | None = None,
    pending_reason: str = "",
    record: bool = False,
    assets: list | None = None,
) -> BookRun:
    """Run the rule over the rows of `market` with `book` held at row 0. Each decision at row d fills
    at row d+1; a decision at the last row comes back as `pending` (it fills after the range). With
    `pending` given, row 0 is history: its decision was taken earlier (these orders, possibly none,
    filling at row 1) and the drift cap is checked from row 1 on."""
    n, m = market.close.shape
    close0 = np.nan_to_num(market.close, nan=0.0)
    target0 = np.nan_to_num(decisions.target, nan=0.0)
    out = BookRun(
        np.zeros(n), np.zeros(n), np.zeros((n, m)), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    )
    decided = np.isfinite(decisions.target).any(axis=1)
    planned: dict[int, str] = {}
    previous = decisions.previous_control
    for r in np.flatnonzero(decided):
        reason = trigger(bool(decisions.scheduled[r]), str(decisions.control[r]), previous)
        previous = str(decisions.control[r])
        if reason is not None:
            planned[int(r)] = reason
    explicit = pending is not None
    if explicit:
        planned[0] = pending_reason
    events = sorted(planned)
    limit = None if rule.max_position is None else rule.max_position * (1 + rule.cap_tolerance)
    capped = decisions.capped.astype(bool)
    latest = np.maximum.accumulate(np.where(decided, np.arange(n), -1))  # newest decision row <= r

    start, ei = 0, 0
    while start < n:
        # The book is fixed from `start` until the next decision that trades: a planned one, or a
        # capped holding drifting over its limit first (rows before `first_check` were decided earlier).
        next_planned = events[ei] if ei < len(events) else n
        first_check = max(start, 1 if explicit else 0)
        cap_row = None
        if limit is not None and capped.any() and book.quantity[capped].any():
            cap_row = _first_cap_breach(book, close0, first_check, min(next_planned, n), capped, limit)
        row = cap_row if cap_row is not None else next_planned
        end = min(row + 1, n)
        out.quantity[start:end] = book.quantity
        out.cash[start:end] = book.cash
        out.nav[start:end] = book.cash + close0[start:end] @ book.quantity
        if row >= n:
            break
        if cap_row is not None:
            reason = CAP
            target = target0[latest[row]] if latest[row] >= 0 else np.zeros(m)
            over = capped & (_weights(book, close0[row]) > limit)
            orders = trim_orders(book, target, market.close[row], over, rule.fractional)
        else:
            reason = planned[row]
            ei += 1
            if explicit and row == 0:
                orders, target = np.asarray(pending, dtype=float), None
            else:
                target = target0[row]
                orders = order_quantities(book, target, market.close[row], rule.fractional)
        if record and target is not None:
            _record_orders(out.orders, row, reason, orders, target, book, close0[row], assets)
        if row + 1 >= n:
            out.pending, out.pending_reason = orders, reason
            break
        book = _fill(out, book, row + 1, row, orders, market, close0, rule, record, assets)
        start = row + 1
    return out


def _fill(
    out: BookRun,
    book: Book,
    row: int,
    decided: int,
    orders: np.ndarray,
    market: Market,
    close0: np.ndarray,
    rule: TradingRule,
    record: bool,
    assets: list | None,
) -> Book:
    sigma = market.sigma[decided] if market.sigma is not None else None
    adv = market.adv[decided] if market.adv is not None else None
    before = book.value(close0[decided])
    book, ex = execute(book, orders, market.fill[row], market.close[row], rule, sigma, adv)
    out.traded_usd[row] += ex.traded_usd
    out.linear_usd[row] += float(ex.commission.sum() + ex.spread.sum())
    out.impact_usd[row] += float(ex.impact.sum())
    if before > 0:
        # impact / NAV grows like sqrt(NAV): the coefficient rescales it to another book size.
        out.impact_per_sqrt_nav[row] += float(ex.impact.sum()) / before / np.sqrt(before)
    if record:
        _record_fills(out.fills, row, decided, orders, ex, assets)
    return book


def _weights(book: Book, close: np.ndarray) -> np.ndarray:
    value = book.quantity * close
    total = book.cash + value.sum()
    return value / total if total > 0 else np.zeros_like(value)


def _first_cap_breach(
    book: Book, close: np.ndarray, start: int, stop: int, capped: np.ndarray, limit: float
) -> int | None:
    """First row in [start, stop) whose close (NaN-free) values a capped holding above `limit` of the NAV."""
    if stop <= start:
        return None
    values = close[start:stop] * book.quantity
    nav = book.cash + values.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        over = (values[:, capped] > limit * nav[:, None]).any(axis=1) & (nav > 0)
    hit = np.flatnonzero(over)
    return int(start + hit[0]) if len(hit) else None


def _record_orders(
    into: list[dict],
    row: int,
    reason: str,
    orders: np.ndarray,
    target: np.ndarray,
    book: Book,
    close: np.ndarray,
    assets,
) -> None:
    weights = _weights(book, close)
    for j in np.flatnonzero(orders):
        into.append(
            {
                "row": row,
                "asset": assets[j] if assets else j,
                "side": "buy" if orders[j] > 0 else "sell",
                "quantity": float(abs(orders[j])),
                "reference_price": float(close[j]),
                "target_weight": float(max(target[j], 0.0)),
                "previous_weight": float(weights[j]),
                "reason": reason,
            }
        )


def _record_fills(
    into: list[dict], row: int, decided: int | None, orders: np.ndarray, ex: Execution, assets
) -> None:
    for j in np.flatnonzero(orders):
        into.append(
            {
                "row": row,
                "decided": decided,
                "asset": assets[j] if assets else j,
                "quantity": float(ex.quantity[j]),
                "ordered": float(orders[j]),
                "price": float(ex.price[j]) if np.isfinite(ex.price[j]) else None,
                "commission_usd": float(ex.commission[j]),
                "spread_usd": float(ex.spread[j]),
                "impact_usd": float(ex.impact[j]),
                **dict(zip(("status", "reason"), ex.status(j), strict=True)),
            }
        )
