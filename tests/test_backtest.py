"""The backtest through the trading rule: timing, drift, costs, capacity, and the
DESIGN.md reference figures on the real bundled sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import backtest as bt
from portfolio_dagster.quant import metrics
from portfolio_dagster.quant.costs import CostModel, ImpactInputs, impact_inputs
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.resources.sources import sample_prices


def synthetic_market(n_days: int = 260, n_assets: int = 7, seed: int = 3):
    """Synthetic closes, weights (summing to <= 1), volatility and dollar volume (test data)."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2003-01-01", periods=n_days)
    assets = [f"S{i}" for i in range(n_assets)]
    close = pd.DataFrame(
        50 * np.exp(np.cumsum(rng.normal(0.0004, 0.02, (n_days, n_assets)), axis=0)),
        index=days,
        columns=assets,
    )
    close.iloc[10:30, 1] = np.nan  # a gap: carried at its last price
    weights = rng.dirichlet(np.ones(n_assets), n_days) * rng.uniform(0.7, 1.0, (n_days, 1))
    targets = pd.DataFrame(weights, index=days, columns=assets)
    sigma = pd.DataFrame(rng.uniform(0.01, 0.03, (n_days, n_assets)), index=days, columns=assets)
    adv = pd.DataFrame(rng.uniform(1e6, 1e8, (n_days, n_assets)), index=days, columns=assets)
    adv.iloc[:, 0] = np.nan  # no volume for one asset
    return days, assets, close, targets, ImpactInputs(sigma, adv)


def test_a_decision_at_the_close_fills_next_session_and_earns_from_there():
    days = pd.bdate_range("2001-01-01", periods=5)
    close = pd.DataFrame({"X": [100.0, 150.0, 165.0, 156.75, 159.885], "CASH": 1.0}, index=days)
    out = bt.simulate(
        pd.DataFrame({"X": [1.0], "CASH": [0.0]}, index=days[:1]),
        close,
        days[:1],
        CostModel(10.0),
        capital_usd=1000.0,
    ).daily
    assert list(out["date"]) == list(days[1:])
    # Ordered 10 shares at 100; the fill at day 1's close (150) can pay for 1000 / (150 x 1.001) of them.
    shares = 1000.0 / (150 * 1.001)
    assert out["net_return"].iat[0] == pytest.approx(-shares * 150 * 0.001 / 1000)  # the +50% came first
    assert out["cost"].iat[0] == pytest.approx(shares * 150 * 0.001 / 1000)
    assert out["net_return"].iloc[1:].tolist() == pytest.approx([0.10, -0.05, 0.02])
    assert (out["turnover"].iloc[1:] == 0).all()


def test_weights_drift_between_rebalances_and_uninvested_cash_earns_zero():
    days = pd.bdate_range("2001-01-01", periods=4)
    close = pd.DataFrame({"X": [1.0, 1.0, 2.0, 3.0], "Y": [1.0, 1.0, 1.0, 1.0]}, index=days)
    out = bt.simulate(pd.DataFrame({"X": [0.5], "Y": [0.5]}, index=days[:1]), close, days[:1], CostModel(0.0))
    # After X doubles the book is 2/3 X, so the next day earns 2/3 x 50%.
    assert out.daily["gross_return"].tolist() == pytest.approx([0.0, 0.5, 1 / 3])
    half_cash = bt.simulate(pd.DataFrame({"X": [0.5]}, index=days[:1]), close, days[:1], CostModel(0.0))
    assert half_cash.daily["gross_return"].tolist() == pytest.approx([0.0, 0.5, 0.5 * 2 / 1.5 * 0.5])


def test_zero_turnover_costs_nothing():
    days, _, close, targets, impact = synthetic_market()
    fixed = pd.DataFrame([targets.iloc[0].to_numpy()] * len(days), index=days, columns=targets.columns)
    run = bt.simulate(fixed, close, days[:1], CostModel(25.0, 10.0, 1.0), impact)
    later = run.daily.iloc[1:]  # only the initial purchase trades
    assert (later["turnover"] == 0).all() and (later["cost"] == 0).all()
    assert np.array_equal(later["net_return"].to_numpy(), later["gross_return"].to_numpy())


def test_linear_costs_are_the_rate_times_the_traded_value_and_lower_the_net():
    days, _, close, targets, _ = synthetic_market()
    schedule = bt.rebalance_dates(days, "weekly")
    free = bt.simulate(targets, close, schedule, CostModel(0.0)).daily
    paid = bt.simulate(targets, close, schedule, CostModel(8.0, 4.0)).daily
    np.testing.assert_allclose(paid["cost"], paid["turnover"] * 12e-4, rtol=1e-12, atol=0)
    np.testing.assert_allclose(paid["gross_return"] - paid["net_return"], paid["cost"], rtol=0, atol=1e-15)
    assert (free["cost"] == 0).all() and paid["cost"].gt(0).sum() >= len(schedule) - 1
    assert paid["equity"].iat[-1] < free["equity"].iat[-1]


def test_rebalance_schedule_is_first_date_then_each_periods_last():
    days = pd.bdate_range("2001-01-15", "2001-03-31")
    monthly = bt.rebalance_dates(days, "monthly")
    assert list(monthly.strftime("%Y-%m-%d")) == ["2001-01-15", "2001-01-31", "2001-02-28", "2001-03-30"]
    assert len(bt.rebalance_dates(days, "daily")) == len(days)
    with pytest.raises(ValueError):
        bt.rebalance_dates(days, "hourly")


def test_capacity_is_where_impact_halves_the_sharpe():
    days, _, close, targets, impact = synthetic_market(n_days=500, seed=5)
    close = close.mul(np.exp(0.002 * np.arange(len(days))), axis=0)  # a clearly positive Sharpe
    run = bt.simulate(targets, close, bt.rebalance_dates(days, "weekly"), CostModel(5.0, 0.0, 1.0), impact)
    cap = bt.capacity_usd(run)
    base = metrics.sharpe(run.net_at_aum(0.0))
    assert base > 0 and 1e3 < cap < 1e13
    assert metrics.sharpe(run.net_at_aum(cap)) == pytest.approx(base / 2, rel=1e-6)
    assert metrics.sharpe(run.net_at_aum(cap / 2)) > base / 2 > metrics.sharpe(run.net_at_aum(cap * 2))


@pytest.mark.parametrize("drift", [-0.0005, -0.002])
def test_capacity_with_a_modest_or_a_losing_sharpe(drift):
    """A Sharpe below 1 still has a capacity where impact halves it; a losing strategy has none (0)."""
    days, _, close, targets, impact = synthetic_market(n_days=500, seed=5)
    close = close.mul(np.exp(drift * np.arange(len(days))), axis=0)
    run = bt.simulate(targets, close, bt.rebalance_dates(days, "weekly"), CostModel(5.0, 0.0, 1.0), impact)
    base = metrics.sharpe(run.net_at_aum(0.0))
    cap = bt.capacity_usd(run)
    if drift > -0.001:
        assert 0 < base < 1 and 1e3 < cap < 1e13  # a Sharpe of about 0.94
        assert metrics.sharpe(run.net_at_aum(cap)) == pytest.approx(base / 2, rel=1e-6)
    else:
        assert base <= 0 and cap == 0.0


def test_capacity_not_estimable_without_volume():
    days, _, close, targets, _ = synthetic_market()
    assert impact_inputs(close, None) is None
    assert impact_inputs(close, close * np.nan) is None
    run = bt.simulate(targets, close, days, CostModel(10.0))
    assert not run.impact_estimable and np.isnan(bt.capacity_usd(run))
    assumed = impact_inputs(close, None, fallback_adv_usd=1e8)
    assert assumed is not None and (assumed.adv_usd == 1e8).all().all()


def test_impact_inputs_are_trailing_point_in_time():
    days, _, close, _, _ = synthetic_market()
    close = close.ffill().bfill()
    volume = pd.DataFrame(1e5, index=close.index, columns=close.columns)
    a = impact_inputs(close, volume, window=21)
    shocked = close.copy()
    shocked.iloc[100:] *= 3.0
    b = impact_inputs(shocked, volume, window=21)
    pd.testing.assert_frame_equal(a.sigma.iloc[:100], b.sigma.iloc[:100])
    pd.testing.assert_frame_equal(a.adv_usd.iloc[:100], b.adv_usd.iloc[:100])
    d = close.index[50]
    expected = (close * volume).iloc[30:51].mean()
    np.testing.assert_allclose(a.adv_usd.loc[d].to_numpy(), expected.to_numpy(), rtol=1e-12)


@pytest.fixture(scope="module")
def sample_panel():
    px = sample_prices("SP500")
    px["date"] = pd.to_datetime(px["date"])
    # The reference period's returns are 2000-01-03..2022-12-28. Decisions fill on the next session, so
    # the first decision is two closes before (1999-12-30): the book is invested at 1999-12-31's close.
    return wide(px, "close").loc["1999-12-30":"2022-12-28"]


def _reference_days(run: bt.BacktestResult) -> np.ndarray:
    d = run.daily
    return d.loc[d["date"] >= "2000-01-03", "net_return"].to_numpy()


def test_equal_weight_reproduces_the_design_reference_on_the_sample(sample_panel):
    """DESIGN.md: 1/N rebalanced monthly with 10 bps, 2000-01-03..2022-12-28: Sharpe 0.72, CAGR 12.9%,
    max drawdown -49.5% when each month-end decision trades at that same close. Trading it on the next
    session (the rule) moves the drawdown to -48.8%; Sharpe and CAGR are unchanged at this precision."""
    close = sample_panel
    stocks = [c for c in close.columns if c != "SP500"]
    decisions = close.index[:-1]
    run = bt.simulate(
        bt.equal_weight_targets(close[stocks], decisions),
        close,
        bt.rebalance_dates(decisions, "monthly"),
        CostModel(10.0),
    )
    net = _reference_days(run)
    assert run.daily["date"].iat[-1] == pd.Timestamp("2022-12-28")
    assert len(net) == len(close.loc["2000-01-03":])
    assert round(metrics.sharpe(net), 2) == 0.72
    assert round(metrics.cagr(net), 3) == 0.129
    assert round(metrics.max_drawdown(net), 3) == -0.488


def test_index_reproduces_the_design_reference_on_the_sample(sample_panel):
    """DESIGN.md: S&P 500 price index, Sharpe 0.31, max drawdown -56.8%."""
    close = sample_panel
    decisions = close.index[:-1]
    run = bt.simulate(bt.buy_and_hold_targets("SP500", decisions), close, decisions[:1], CostModel(0.0))
    net = _reference_days(run)
    index = close["SP500"].pct_change().loc["2000-01-03":].to_numpy()
    np.testing.assert_allclose(net, index, rtol=0, atol=1e-12)  # fully invested from 1999-12-31's close
    assert round(metrics.sharpe(net), 2) == 0.31
    assert round(metrics.max_drawdown(net), 3) == -0.568
    assert run.daily["turnover"].sum() == pytest.approx(1.0)  # bought once, never traded again


def test_nothing_to_backtest_without_a_priced_decision_day_and_a_later_day():
    days = pd.bdate_range("2010-01-04", periods=3)
    close = pd.DataFrame({"A": [10.0, 11.0, 12.0]}, index=days)
    with pytest.raises(ValueError, match="nothing to backtest"):
        bt.simulate(pd.DataFrame({"A": [1.0]}, index=days[2:]), close, days[2:], CostModel(0.0))
    with pytest.raises(ValueError, match="nothing to backtest"):
        bt.simulate(
            pd.DataFrame({"A": [1.0]}, index=[pd.Timestamp("2010-01-09")]), close, days, CostModel(0.0)
        )
    two = bt.simulate(pd.DataFrame({"A": [1.0]}, index=days[1:2]), close, days[1:2], CostModel(0.0))
    assert list(two.daily["date"]) == [days[2]]


def test_history_before_the_first_decision_only_carries_last_prices():
    days = pd.bdate_range("2010-01-04", periods=5)
    close = pd.DataFrame(
        {"A": [10.0, 11.0, 12.0, 13.0, 14.0], "B": [5.0, 6.0, np.nan, np.nan, 8.0]}, index=days
    )
    run = bt.simulate(
        pd.DataFrame({"A": [0.5], "B": [0.5]}, index=days[2:3]),
        close,
        days[2:3],
        CostModel(0.0),
        capital_usd=1200.0,
    )
    assert list(run.days) == list(days[2:]) and list(run.daily["date"]) == list(days[3:])
    # B had no price on the decision day: sized at its last close (6) and filled at it (stale) the next day;
    # A rose to 13 by its fill, so the buys are scaled to the cash: 1200 / (50 x 13 + 100 x 6) = 0.96.
    assert run.book.quantity[1].tolist() == pytest.approx([50.0 * 0.96, 100.0 * 0.96])


def test_equal_weight_targets_hold_nothing_on_a_day_without_prices():
    days = pd.bdate_range("2010-01-04", periods=2)
    close = pd.DataFrame({"A": [np.nan, 1.0], "B": [np.nan, 2.0]}, index=days)
    targets = bt.equal_weight_targets(close, days)
    assert targets.iloc[0].tolist() == [0.0, 0.0] and targets.iloc[1].tolist() == [0.5, 0.5]
