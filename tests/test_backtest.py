"""The vectorized backtester against the slow event-loop reference, costs, capacity, and the
DESIGN.md reference figures on the real bundled sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest_reference import reference_backtest
from portfolio_dagster.quant import backtest as bt
from portfolio_dagster.quant import metrics
from portfolio_dagster.quant.costs import CostModel, ImpactInputs, impact_inputs
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.resources.sources import sample_prices

COLUMNS = ["gross_return", "net_return", "turnover", "cost", "equity"]


def synthetic_market(n_days: int = 260, n_assets: int = 7, seed: int = 3):
    """Synthetic returns, weights (summing to <= 1), volatility and dollar volume (test data)."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2003-01-01", periods=n_days)
    assets = [f"S{i}" for i in range(n_assets)]
    returns = pd.DataFrame(rng.normal(0.0004, 0.02, (n_days, n_assets)), index=days, columns=assets)
    returns.iloc[10:30, 1] = np.nan                       # a gap: carried at its last price
    weights = rng.dirichlet(np.ones(n_assets), n_days) * rng.uniform(0.7, 1.0, (n_days, 1))
    targets = pd.DataFrame(weights, index=days, columns=assets)
    sigma = pd.DataFrame(rng.uniform(0.01, 0.03, (n_days, n_assets)), index=days, columns=assets)
    adv = pd.DataFrame(rng.uniform(1e6, 1e8, (n_days, n_assets)), index=days, columns=assets)
    adv.iloc[:, 0] = np.nan                               # no volume for one asset
    return days, assets, returns, targets, ImpactInputs(sigma, adv)


def _nested(frame: pd.DataFrame) -> dict:
    return {d: {a: float(v) for a, v in row.items() if v == v} for d, row in frame.iterrows()}


def _reference(days, assets, returns, targets, schedule, costs: CostModel, impact: ImpactInputs | None):
    rows = reference_backtest(
        list(days), assets, _nested(returns), _nested(targets), set(schedule), costs.commission_bps,
        costs.half_spread_bps, costs.impact_coefficient if impact else 0.0, costs.aum_usd,
        _nested(impact.sigma) if impact else None, _nested(impact.adv_usd) if impact else None)
    return pd.DataFrame(rows, columns=["date", *COLUMNS])


@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly"])
def test_vectorized_matches_event_loop_reference_to_1e9(frequency):
    days, assets, returns, targets, impact = synthetic_market()
    costs = CostModel(commission_bps=7.0, half_spread_bps=3.0, impact_coefficient=0.8, aum_usd=5e7)
    schedule = bt.rebalance_dates(days[:-1], frequency)
    fast = bt.simulate(targets, returns, schedule, costs, impact).daily
    slow = _reference(days, assets, returns, targets, schedule, costs, impact)
    assert list(fast["date"]) == list(slow["date"]) == list(days[1:])
    np.testing.assert_allclose(fast[COLUMNS].to_numpy(), slow[COLUMNS].to_numpy(), rtol=0, atol=1e-9)
    assert (fast["impact_cost"] > 0).any()


def test_reference_match_without_impact_and_with_sparse_targets():
    days, assets, returns, targets, _ = synthetic_market(seed=11)
    sparse = targets.iloc[::17]                            # decisions only on some days
    costs = CostModel(10.0, 0.0, 0.0)
    fast = bt.simulate(sparse, returns, sparse.index, costs).daily
    slow = _reference(days, assets, returns, sparse, sparse.index, costs, None)
    np.testing.assert_allclose(fast[COLUMNS].to_numpy(), slow[COLUMNS].to_numpy(), rtol=0, atol=1e-9)


def test_allocation_at_close_earns_the_next_day_and_pays_costs_then():
    days = pd.bdate_range("2001-01-01", periods=4)
    returns = pd.DataFrame({"X": [0.50, 0.10, -0.05, 0.02], "CASH": 0.0}, index=days)
    out = bt.simulate(pd.DataFrame({"X": [1.0], "CASH": [0.0]}, index=days[:1]), returns, days[:1],
                      CostModel(10.0)).daily
    assert list(out["date"]) == list(days[1:])             # day 1's +50% happened before the decision
    assert out["gross_return"].tolist() == pytest.approx([0.10, -0.05, 0.02])
    assert out["cost"].tolist() == pytest.approx([0.001, 0.0, 0.0])
    assert out["net_return"].iat[0] == pytest.approx(0.099)
    assert out["equity"].iat[-1] == pytest.approx(1.099 * 0.95 * 1.02)


def test_weights_drift_between_rebalances_and_cash_earns_zero():
    days = pd.bdate_range("2001-01-01", periods=3)
    returns = pd.DataFrame({"X": [0.0, 1.0, 0.5], "Y": [0.0, 0.0, 0.0]}, index=days)
    out = bt.simulate(pd.DataFrame({"X": [0.5], "Y": [0.5]}, index=days[:1]), returns, days[:1], CostModel(0.0))
    # After X doubles the book is 2/3 X, so day 3 earns 2/3 * 50%.
    assert out.daily["gross_return"].tolist() == pytest.approx([0.5, 1 / 3])
    half_cash = bt.simulate(pd.DataFrame({"X": [0.5]}, index=days[:1]), returns, days[:1], CostModel(0.0))
    assert half_cash.daily["gross_return"].tolist() == pytest.approx([0.5, 0.5 * 2 / 1.5 * 0.5])


def test_zero_turnover_costs_nothing():
    days, _, returns, targets, impact = synthetic_market()
    fixed = pd.DataFrame([targets.iloc[0].to_numpy()] * len(days), index=days, columns=targets.columns)
    run = bt.simulate(fixed, returns, days[:1], CostModel(25.0, 10.0, 1.0), impact)
    later = run.daily.iloc[1:]                             # only the initial purchase trades
    assert (later["turnover"] == 0).all() and (later["cost"] == 0).all()
    assert np.array_equal(later["net_return"].to_numpy(), later["gross_return"].to_numpy())


def test_doubling_costs_lowers_net_returns_by_exactly_the_cost_difference():
    days, _, returns, targets, impact = synthetic_market()
    costs = CostModel(8.0, 4.0, 0.7, 2e7)
    schedule = bt.rebalance_dates(days, "weekly")
    once = bt.simulate(targets, returns, schedule, costs, impact).daily
    twice = bt.simulate(targets, returns, schedule, costs.scaled(2.0), impact).daily
    np.testing.assert_allclose(twice["cost"], 2 * once["cost"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(once["net_return"] - twice["net_return"], twice["cost"] - once["cost"],
                               rtol=0, atol=1e-15)
    np.testing.assert_array_equal(once["gross_return"], twice["gross_return"])


def test_rebalance_schedule_is_first_date_then_each_periods_last():
    days = pd.bdate_range("2001-01-15", "2001-03-31")
    monthly = bt.rebalance_dates(days, "monthly")
    assert list(monthly.strftime("%Y-%m-%d")) == ["2001-01-15", "2001-01-31", "2001-02-28", "2001-03-30"]
    assert len(bt.rebalance_dates(days, "daily")) == len(days)
    with pytest.raises(ValueError):
        bt.rebalance_dates(days, "hourly")


def test_capacity_is_where_impact_halves_the_sharpe():
    days, _, returns, targets, impact = synthetic_market(n_days=500, seed=5)
    returns = returns + 0.002                              # a strategy with a clearly positive Sharpe
    run = bt.simulate(targets, returns, bt.rebalance_dates(days, "weekly"), CostModel(5.0, 0.0, 1.0), impact)
    cap = bt.capacity_usd(run)
    base = metrics.sharpe(run.net_at_aum(0.0))
    assert base > 0 and 1e3 < cap < 1e13
    assert metrics.sharpe(run.net_at_aum(cap)) == pytest.approx(base / 2, rel=1e-6)
    assert metrics.sharpe(run.net_at_aum(cap / 2)) > base / 2 > metrics.sharpe(run.net_at_aum(cap * 2))


def test_capacity_not_estimable_without_volume():
    days, _, returns, targets, _ = synthetic_market()
    close = (1 + returns.fillna(0)).cumprod()
    assert impact_inputs(close, None) is None
    assert impact_inputs(close, close * np.nan) is None
    run = bt.simulate(targets, returns, days, CostModel(10.0))
    assert not run.impact_estimable and np.isnan(bt.capacity_usd(run))
    assumed = impact_inputs(close, None, fallback_adv_usd=1e8)
    assert assumed is not None and (assumed.adv_usd == 1e8).all().all()


def test_impact_inputs_are_trailing_point_in_time():
    days, _, returns, _, _ = synthetic_market()
    close = 100 * (1 + returns.fillna(0)).cumprod()
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
    # The reference period's returns are 2000-01-03..2022-12-28: the first decision is the close before.
    return wide(px, "close").loc["1999-12-31":"2022-12-28"]


def test_equal_weight_reproduces_the_design_reference_on_the_sample(sample_panel):
    """DESIGN.md: 1/N rebalanced monthly with 10 bps, 2000-01-03..2022-12-28: Sharpe 0.72, CAGR 12.9%,
    max drawdown -49.5%."""
    close = sample_panel
    stocks = [c for c in close.columns if c != "SP500"]
    decisions = close.index[:-1]
    run = bt.simulate(bt.equal_weight_targets(close[stocks], decisions), close.pct_change(fill_method=None),
                      bt.rebalance_dates(decisions, "monthly"), CostModel(10.0))
    net = run.daily["net_return"].to_numpy()
    assert run.daily["date"].iat[0] == pd.Timestamp("2000-01-03")
    assert run.daily["date"].iat[-1] == pd.Timestamp("2022-12-28")
    assert round(metrics.sharpe(net), 2) == 0.72
    assert round(metrics.cagr(net), 3) == 0.129
    assert round(metrics.max_drawdown(net), 3) == -0.495


def test_index_reproduces_the_design_reference_on_the_sample(sample_panel):
    """DESIGN.md: S&P 500 price index, Sharpe 0.31, max drawdown -56.8%."""
    close = sample_panel
    decisions = close.index[:-1]
    run = bt.simulate(bt.buy_and_hold_targets("SP500", decisions), close.pct_change(fill_method=None),
                      decisions[:1], CostModel(0.0))
    net = run.daily["net_return"].to_numpy()
    assert round(metrics.sharpe(net), 2) == 0.31
    assert round(metrics.max_drawdown(net), 3) == -0.568
    assert run.daily["turnover"].sum() == pytest.approx(1.0)   # bought once, never traded again
