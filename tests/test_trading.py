"""The one trading rule (quant/trading.py) through the backtest: against an independent event loop,
point in time, next-session fills, controls between rebalances, cash and share constraints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtest_reference import reference_book
from test_backtest import synthetic_market

from portfolio_dagster.quant import backtest as bt
from portfolio_dagster.quant import trading
from portfolio_dagster.quant.costs import CostModel, ImpactInputs
from portfolio_dagster.quant.trading import Book, Decisions, TradingRule, run_book

COLUMNS = ["gross_return", "net_return", "turnover", "cost", "equity"]


def synthetic_prices(n_days: int = 260, n_assets: int = 6, seed: int = 3):
    """Synthetic (test) closes with a gap, targets summing to <= 1 and a control switching mid-month."""
    days, assets, close, targets, _ = synthetic_market(n_days, n_assets, seed)
    controls = pd.Series("", index=days, dtype=object)
    controls.iloc[47:60] = "drawdown_derisk"  # fires mid-month, lifts later
    controls.iloc[150:152] = "emergency"
    return days, assets, close, targets, controls


def _nested(frame: pd.DataFrame) -> dict:
    return {d: {a: float(v) for a, v in row.items() if v == v} for d, row in frame.iterrows()}


@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly"])
@pytest.mark.parametrize("cap", [None, 0.3])
def test_backtest_matches_the_independent_reference_loop_to_1e12(frequency, cap):
    days, assets, close, targets, controls = synthetic_prices()
    schedule = bt.rebalance_dates(days[:-1], frequency)
    rule = TradingRule(CostModel(7.0, 3.0, 0.0), fractional=True, max_position=cap, cap_tolerance=0.0)
    fast = bt.simulate(targets, close, schedule, rule, controls=controls, capped=assets[:4], capital_usd=1e6)
    rows, _ = reference_book(
        list(days),
        assets,
        _nested(close),
        _nested(targets),
        set(schedule),
        controls.to_dict(),
        7.0,
        3.0,
        1e6,
        cap,
        assets[:4],
    )
    slow = pd.DataFrame(rows, columns=["date", *COLUMNS])
    assert list(fast.daily["date"]) == list(slow["date"]) == list(days[1:])
    np.testing.assert_allclose(fast.daily[COLUMNS].to_numpy(), slow[COLUMNS].to_numpy(), rtol=0, atol=1e-12)
    assert (fast.book.cash >= 0).all()
    if cap is not None and frequency != "daily":
        assert fast.daily["turnover"].gt(0).sum() > len(schedule)  # cap trims trade between rebalances


def test_a_decision_uses_no_later_price_and_fills_at_the_next_sessions_open():
    days, assets, close, targets, controls = synthetic_prices(n_days=40)
    opens = close * 1.01
    rule = TradingRule(CostModel(10.0), fractional=True)
    base = bt.simulate(targets, close, days[[0, 35]], rule, open_=opens, capital_usd=1e6)
    d = 35
    shocked = close.copy()
    shocked.iloc[d + 1 :] *= 1.7
    shocked_opens = opens.copy()
    shocked_opens.iloc[d + 1 :] *= 0.6
    after = bt.simulate(targets, shocked, days[[0, 35]], rule, open_=shocked_opens, capital_usd=1e6)
    # The book through the close of d, and the orders decided at d, do not see later prices.
    np.testing.assert_array_equal(base.book.nav[: d + 1], after.book.nav[: d + 1])
    np.testing.assert_array_equal(base.book.quantity[: d + 1], after.book.quantity[: d + 1])
    ordered_base = after_orders = None
    for run in (base, after):
        market = bt.market_panels(
            close if run is base else shocked, days, run.assets, opens if run is base else shocked_opens
        )
        book = Book(run.book.quantity[d].copy(), float(run.book.cash[d]))
        orders = trading.order_quantities(
            book, targets.iloc[d].reindex(run.assets).fillna(0).to_numpy(), market.close[d], True
        )
        if run is base:
            ordered_base = orders
        else:
            after_orders = orders
        # ... and fill at the next session's open: the book's cash moves by exactly orders x open + costs.
        moved = run.book.quantity[d + 1] - run.book.quantity[d]
        np.testing.assert_allclose(moved, orders, rtol=1e-12, atol=1e-9)
        fill = market.fill[d + 1]
        assert np.isfinite(fill).all()
        np.testing.assert_array_equal(fill, (opens if run is base else shocked_opens).iloc[d + 1].to_numpy())
        value = np.abs(moved) * fill
        np.testing.assert_allclose(
            run.book.cash[d] - run.book.cash[d + 1], moved @ fill + value.sum() * 1e-3, rtol=1e-12
        )
    np.testing.assert_array_equal(ordered_base, after_orders)


def test_a_control_that_fires_mid_month_changes_pnl_the_next_session():
    days, assets, close, targets, controls = synthetic_prices()
    fixed = pd.DataFrame([targets.iloc[0].to_numpy()] * len(days), index=days, columns=assets)
    derisked = fixed.copy()
    fires = 47  # not a month end: days[47] is mid-March
    assert days[fires].month == days[fires + 1].month
    derisked.iloc[fires:60] *= 0.5  # the control halves the risky book
    schedule = bt.rebalance_dates(days, "monthly")
    rule = TradingRule(CostModel(10.0), fractional=True)
    quiet = bt.simulate(fixed, close, schedule, rule, controls=pd.Series("", index=days))
    acted = bt.simulate(derisked, close, schedule, rule, controls=controls)
    q, a = quiet.daily.set_index("date"), acted.daily.set_index("date")
    before = days[1 : fires + 1]
    np.testing.assert_allclose(q.loc[before, "net_return"], a.loc[before, "net_return"], rtol=0, atol=1e-15)
    assert a.loc[days[fires + 1], "turnover"] > 0.3  # traded the session after it fired
    assert q.loc[days[fires + 1], "turnover"] == 0
    assert a.loc[days[fires + 2], "net_return"] != q.loc[days[fires + 2], "net_return"]


def test_cash_never_negative_whole_shares_long_only_and_scaled_buys_say_why():
    days, assets, close, targets, controls = synthetic_prices(n_days=60)
    full = targets.div(targets.sum(axis=1), axis=0)  # fully invested: costs must squeeze the buys
    full.iloc[5, 0] = -0.2  # a short target is clipped to zero
    rule = TradingRule(CostModel(25.0, 5.0), fractional=False)
    market = bt.market_panels(close, days, assets)
    dec = Decisions(
        target=full.to_numpy(),
        scheduled=np.ones(len(days), bool),
        control=np.full(len(days), ""),
        capped=np.zeros(len(assets), bool),
    )
    run = run_book(market, dec, rule, Book(np.zeros(len(assets)), 250_000.0), record=True, assets=assets)
    assert (run.cash >= 0).all()
    assert (run.quantity >= 0).all()
    np.testing.assert_array_equal(run.quantity, np.round(run.quantity))
    np.testing.assert_allclose(
        run.nav,
        run.cash
        + np.nan_to_num(market.close) @ np.zeros(len(assets))
        + (run.quantity * np.nan_to_num(market.close)).sum(axis=1),
        rtol=1e-12,
    )
    reasons = {f["reason"] for f in run.fills}
    statuses = {f["status"] for f in run.fills}
    assert trading.CASH_LIMITED in ",".join(reasons) and trading.PARTIAL in statuses
    assert all(o["reason"] in (trading.INITIAL, trading.SCHEDULED) for o in run.orders)
    assert not any(o["side"] == "buy" and o["asset"] == assets[0] and o["row"] == 5 for o in run.orders)


def test_missing_session_price_fills_at_the_last_close_and_never_priced_is_rejected():
    days = pd.bdate_range("2010-01-04", periods=4)
    close = pd.DataFrame({"A": [10.0, np.nan, 12.0, 12.0], "B": [np.nan] * 4}, index=days)
    targets = pd.DataFrame({"A": [0.5], "B": [0.5]}, index=days[:1])
    market = bt.market_panels(close, days, ["A", "B"])
    dec = Decisions(
        target=np.vstack([targets.to_numpy(), np.full((3, 2), np.nan)]),
        scheduled=np.zeros(4, bool),
        control=np.full(4, ""),
        capped=np.zeros(2, bool),
    )
    run = run_book(
        market, dec, TradingRule(CostModel(0.0)), Book(np.zeros(2), 100.0), record=True, assets=["A", "B"]
    )
    fills = {f["asset"]: f for f in run.fills}
    assert "B" not in fills  # never priced: no order at all
    assert fills["A"]["price"] == 10.0 and trading.STALE_PRICE in fills["A"]["reason"]
    assert run.quantity[1, 0] == pytest.approx(5.0) and run.cash[1] == pytest.approx(50.0)


def test_impact_is_paid_from_cash_and_scales_with_the_book():
    days, assets, close, targets, _ = synthetic_prices(n_days=80)
    sigma = pd.DataFrame(0.02, index=days, columns=assets)
    adv = pd.DataFrame(5e6, index=days, columns=assets)
    rule = TradingRule(CostModel(0.0, 0.0, 1.0))
    small = bt.simulate(
        targets, close, bt.rebalance_dates(days, "weekly"), rule, ImpactInputs(sigma, adv), capital_usd=1e5
    )
    large = bt.simulate(
        targets, close, bt.rebalance_dates(days, "weekly"), rule, ImpactInputs(sigma, adv), capital_usd=1e8
    )
    assert small.daily["impact_cost"].iat[0] > 0
    for run in (small, large):
        np.testing.assert_allclose(
            run.daily["cost"], run.daily["linear_cost"] + run.daily["impact_cost"], rtol=1e-12
        )
        np.testing.assert_allclose(
            run.daily["gross_return"] - run.daily["net_return"], run.daily["cost"], atol=1e-15
        )
        weights = run.holdings()
        assert list(weights.index) == list(days) and list(weights.columns) == run.assets
        np.testing.assert_allclose(weights.sum(axis=1) + run.book.cash / run.book.nav, 1.0, rtol=1e-12)
    ratio = large.daily["impact_cost"].iat[0] / small.daily["impact_cost"].iat[0]
    assert ratio == pytest.approx(np.sqrt(1e3), rel=1e-9)  # square-root law on the first (identical) trade


def test_a_second_range_from_the_backtests_book_equals_the_backtest():
    """A replay of N sessions that starts from the backtest's book at row k (with its pending orders)
    reproduces the backtest exactly with fractional shares."""
    days, assets, close, targets, controls = synthetic_prices()
    schedule = bt.rebalance_dates(days, "monthly")
    rule = TradingRule(CostModel(10.0), fractional=True, max_position=0.3)
    full = bt.simulate(targets, close, schedule, rule, controls=controls, capped=assets[:4], capital_usd=1e6)
    k = 63
    head = bt.simulate(
        targets.iloc[: k + 1],
        close.iloc[: k + 1],
        schedule,
        rule,
        controls=controls,
        capped=assets[:4],
        capital_usd=1e6,
    )
    market = bt.market_panels(close, days[k:], assets)
    target = targets.reindex(index=days[k:], columns=assets).to_numpy()
    target[0] = np.nan  # row k was decided in the head run
    dec = Decisions(
        target=target,
        scheduled=days[k:].isin(schedule),
        control=controls.iloc[k:].to_numpy(),
        capped=np.isin(assets, assets[:4]),
        previous_control=controls.iloc[k],
    )
    pending = head.book.pending if head.book.pending is not None else np.zeros(len(assets))
    tail = run_book(
        market,
        dec,
        rule,
        Book(head.book.quantity[-1].copy(), float(head.book.cash[-1])),
        pending=pending,
        pending_reason=head.book.pending_reason or "",
    )
    np.testing.assert_allclose(tail.nav, full.book.nav[k:], rtol=1e-12)
    np.testing.assert_allclose(tail.quantity, full.book.quantity[k:], rtol=1e-12, atol=1e-9)


def test_market_panels_refuse_non_positive_prices():
    days = pd.bdate_range("2010-01-04", periods=3)
    with pytest.raises(ValueError, match="positive"):
        bt.market_panels(pd.DataFrame({"A": [1.0, 0.0, 1.0]}, index=days), days, ["A"])


def test_trigger_order_initial_then_control_then_schedule():
    assert trading.trigger(False, "", None) == trading.INITIAL
    assert trading.trigger(True, "emergency", "") == trading.CONTROL
    assert trading.trigger(True, "", "") == trading.SCHEDULED
    assert trading.trigger(False, "", "") is None


@pytest.mark.parametrize(
    "cash,linear,impact", [(50.0, 100.0, 0.0), (50.0, 80.0, 40.0), (0.0, 10.0, 5.0), (200.0, 100.0, 40.0)]
)
def test_buy_scale_spends_exactly_the_cash_or_buys_in_full(cash, linear, impact):
    s = trading._buy_scale(cash, linear, impact)
    assert 0.0 <= s <= 1.0
    spent = s * linear + s**1.5 * impact
    if cash == 0:
        assert s == 0.0
    elif linear + impact <= cash:
        assert s == 1.0
    else:
        assert spent <= cash and spent == pytest.approx(cash, rel=1e-12)


def test_the_records_say_what_was_ordered_and_filled():
    days = pd.bdate_range("2010-01-04", periods=3)
    close = pd.DataFrame({"A": [10.0, 12.0, 12.0], "B": [20.0, 20.0, 25.0]}, index=days)
    opens = pd.DataFrame({"A": [np.nan, 11.0, 0.5], "B": [np.nan, -1.0, 0.0]}, index=days)
    market = bt.market_panels(close, days, ["A", "B"], opens)
    np.testing.assert_array_equal(market.fill[1], [11.0, 20.0])  # open; a bad open falls back to the close
    np.testing.assert_array_equal(market.fill[2], [0.5, 25.0])  # any positive open counts; 0 does not
    target = np.array([[0.25, 0.5], [np.nan, np.nan], [np.nan, np.nan]])
    dec = Decisions(
        target=target, scheduled=np.zeros(3, bool), control=np.full(3, ""), capped=np.zeros(2, bool)
    )
    run = run_book(
        market,
        dec,
        TradingRule(CostModel(10.0, 5.0)),
        Book(np.array([0.0, 30.0]), 400.0),
        record=True,
        assets=["A", "B"],
    )
    orders = {o["asset"]: o for o in run.orders}
    # NAV at the decision close: 400 + 30 x 20 = 1000 -> A: 25 shares at 10; B: 25 shares (sell 5) at 20.
    assert orders["A"] == {
        "row": 0,
        "asset": "A",
        "side": "buy",
        "quantity": 25.0,
        "reference_price": 10.0,
        "target_weight": 0.25,
        "previous_weight": 0.0,
        "reason": trading.INITIAL,
    }
    assert orders["B"] == {
        "row": 0,
        "asset": "B",
        "side": "sell",
        "quantity": 5.0,
        "reference_price": 20.0,
        "target_weight": 0.5,
        "previous_weight": 0.6,
        "reason": trading.INITIAL,
    }
    fills = {f["asset"]: f for f in run.fills}
    assert fills["B"]["quantity"] == -5.0 and fills["B"]["price"] == 20.0
    assert fills["B"]["commission_usd"] == pytest.approx(0.1) and fills["B"]["spread_usd"] == pytest.approx(
        0.05
    )
    assert (
        fills["A"]["quantity"] == 25.0
        and fills["A"]["price"] == 11.0
        and fills["A"]["status"] == trading.FILLED
    )
    assert fills["A"]["commission_usd"] == pytest.approx(0.275) and fills["A"]["decided"] == 0
    assert run.cash[1] == pytest.approx(400.0 + 100.0 - 0.15 - 275.0 - 0.4125)
    assert run.traded_usd[1] == pytest.approx(375.0) and run.linear_usd[1] == pytest.approx(0.5625)


@pytest.mark.parametrize("tolerance,trims", [(0.0, True), (0.5, False)])
def test_the_cap_tolerance_decides_whether_a_drift_trims(tolerance, trims):
    days = pd.bdate_range("2010-01-04", periods=4)
    close = pd.DataFrame({"A": [10.0, 10.0, 13.0, 13.0], "B": [10.0, 10.0, 10.0, 10.0]}, index=days)
    target = np.full((4, 2), np.nan)
    target[0] = [0.3, 0.7]
    dec = Decisions(
        target=target, scheduled=np.zeros(4, bool), control=np.full(4, ""), capped=np.array([True, False])
    )
    rule = TradingRule(CostModel(0.0), max_position=0.3, cap_tolerance=tolerance)
    run = run_book(
        bt.market_panels(close, days, ["A", "B"]),
        dec,
        rule,
        Book(np.zeros(2), 100.0),
        record=True,
        assets=["A", "B"],
    )
    # A drifts to 3 x 13 / (39 + 70) = 36% at row 2: over 30%, under 45%.
    cap_orders = [o for o in run.orders if o["reason"] == trading.CAP]
    assert bool(cap_orders) == trims
    if trims:
        assert cap_orders == [
            {
                "row": 2,
                "asset": "A",
                "side": "sell",
                "quantity": pytest.approx(3 - 0.3 * 109 / 13),
                "reference_price": 13.0,
                "target_weight": 0.3,
                "previous_weight": pytest.approx(39 / 109),
                "reason": trading.CAP,
            }
        ]
        assert (
            run.quantity[3, 0] == pytest.approx(0.3 * 109 / 13) and run.quantity[3, 1] == run.quantity[2, 1]
        )
