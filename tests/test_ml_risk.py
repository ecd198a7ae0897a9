"""ML risk mode on planted data (labelled synthetic: tests/strategy_data.py random walks): a risk
forecast that differs from trailing volatility moves the barbell the expected way, and the rule (no
forecast) is untouched."""

import dataclasses

import numpy as np
import pandas as pd

from portfolio_dagster.quant.allocation import allocate
from portfolio_dagster.quant.allocation_reasons import VOLATILITY
from portfolio_dagster.quant.calendar import TRADING_DAYS
from portfolio_dagster.quant.risk import UNIVERSE
from portfolio_dagster.quant.risky_sleeve import composition
from tests.strategy_data import forecasts_from, inputs, market, strategy


def _planted_risk(close: pd.DataFrame, horizon: int, market_scale: float, name_scale: dict) -> pd.DataFrame:
    """A risk forecast: each name's trailing 20-day volatility x name_scale (default 1), the universe's
    x market_scale, over h sessions (the risk_forecasts shape: ticker, date, volatility)."""
    r = close.pct_change(fill_method=None)
    vol = r.rolling(20).std() * np.sqrt(horizon)
    vol[UNIVERSE] = r.mean(axis=1).rolling(20).std() * np.sqrt(horizon) * market_scale
    for t, k in name_scale.items():
        vol[t] = vol[t] * k
    long = vol.stack().rename("volatility").reset_index()
    long.columns = ["date", "ticker", "volatility"]
    return long


def _rule_market(**overrides):
    s = strategy(mode="rule_based", max_position=0.5, **overrides)
    close, safe, regimes = market(seed=3)
    dates, m = inputs(close, safe, regimes, forecasts_from(close, 0.0), s)
    return s, close, dates, m


def _risky(alloc: pd.DataFrame) -> pd.Series:
    return alloc[alloc["sleeve"] == "risky"].groupby("date")["weight"].sum()


def test_a_riskier_market_forecast_shrinks_the_risky_sleeve_by_the_volatility_target():
    s, close, dates, m = _rule_market()
    rule = allocate(dates, m, s)
    # The forecast says the market is 3x as volatile as its trailing estimate (~15% a year -> ~45%):
    # the volatility target (20%) now binds.
    risk = _planted_risk(close, s.signal_horizon, 3.0, {})
    ml = allocate(dates, dataclasses.replace(m, risk=risk), s)
    a, b = _risky(rule).reindex(dates).fillna(0.0), _risky(ml).reindex(dates).fillna(0.0)
    assert (b <= a + 1e-12).all() and b.mean() < 0.7 * a.mean()
    cash = ml[ml["ticker"] == "CASH"]
    assert cash["reasons"].str.contains(VOLATILITY).mean() > 0.5
    # The rule's own market volatility is below the target: it is not vol-cut.
    trailing = close.pct_change(fill_method=None).mean(axis=1).rolling(s.vol_days).std() * np.sqrt(
        TRADING_DAYS
    )
    assert trailing.loc[dates].median() < s.vol_target


def test_a_riskier_name_forecast_gets_a_smaller_inverse_volatility_weight():
    s, close, dates, m = _rule_market()
    rule = allocate(dates, m, s)
    risk = _planted_risk(close, s.signal_horizon, 1.0, {"S0": 4.0})
    ml = allocate(dates, dataclasses.replace(m, risk=risk), s)

    def share_of_s0(alloc):
        risky = alloc[alloc["sleeve"] == "risky"].pivot(index="date", columns="ticker", values="weight")
        risky = risky.fillna(0.0)
        # Dates where S0 is held beside another name (alone it is the whole sleeve either way).
        return (risky["S0"] / risky.sum(axis=1)).where((risky["S0"] > 0) & ((risky > 0).sum(axis=1) > 1))

    a, b = share_of_s0(rule), share_of_s0(ml)
    both = a.index.intersection(b.index)[a.reindex(b.index).notna() & b.notna()]
    assert len(both) > 20
    assert (b[both] < a[both]).all()
    assert (b[both] / a[both]).median() < 0.5  # a 4x volatility forecast: about a quarter of the weight


def test_composition_weighs_by_one_over_the_forecast_and_keeps_trailing_where_none():
    rng = np.random.default_rng(0)
    x = rng.normal(0, [0.01, 0.02, 0.03], (200, 3))
    v = np.array([0.02, 0.01, 0.04])
    w = composition(x, None, max_weight=1.0, kelly_fraction=0.5, volatility_daily=v)
    np.testing.assert_allclose(w, (1 / v) / (1 / v).sum())
    trailing = composition(x, None, max_weight=1.0, kelly_fraction=0.5)
    partial = composition(x, None, max_weight=1.0, kelly_fraction=0.5, volatility_daily=np.full(3, np.nan))
    np.testing.assert_allclose(partial, trailing, rtol=1e-9)
    # Mean-variance with equal expected returns: the forecast's riskiest name gets the least.
    mv = composition(x, np.full(3, 1e-4), max_weight=1.0, kelly_fraction=0.5, volatility_daily=v)
    assert mv.argmin() == 2 and mv.argmax() == 1
