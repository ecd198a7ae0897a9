"""The bundled sample: stocks, benchmark, and the safe sleeve's CASH and BOND series from real data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.market_data import bond_index, bond_monthly_returns, cash_index, par_bond_price
from portfolio_dagster.resources.sources import SAMPLE_SPAN, sample_all, sample_prices, sample_safe_assets
from portfolio_dagster.resources.sources.sample import fama_french_rf, moodys_aaa


@pytest.fixture(scope="module")
def safe() -> pd.DataFrame:
    frame = sample_safe_assets()
    return frame.pivot(index="date", columns="ticker", values="close")


def test_spans_are_documented_and_nothing_is_invented_past_the_data(safe):
    assert safe["CASH"].first_valid_index() == dt.date(1990, 1, 2)
    assert safe["CASH"].last_valid_index() == dt.date(2018, 11, 30)  # Fama-French RF ends 2018-11
    assert safe["BOND"].last_valid_index() == dt.date(2019, 1, 31)  # Dec-2018 yield, accrued in Jan-2019
    assert fama_french_rf().index.max() == pd.Timestamp("2018-11-01")
    assert moodys_aaa().index.max() == pd.Timestamp("2018-12-01")
    days = set(sessions(SAMPLE_SPAN[0], dt.date(2019, 2, 1)).date)
    assert set(safe.index) <= days, "only XNYS sessions"
    assert safe["CASH"].notna().sum() == len(sessions(dt.date(1990, 1, 2), dt.date(2018, 12, 1)))


def test_cash_compounds_each_months_risk_free_rate(safe):
    cash = safe["CASH"].dropna()
    cash.index = pd.to_datetime(cash.index)
    month_end = cash.groupby(cash.index.to_period("M")).last()
    monthly = month_end.pct_change().dropna()
    rf = fama_french_rf()
    rf.index = rf.index.to_period("M")
    np.testing.assert_allclose(monthly.to_numpy(), rf.loc[monthly.index].to_numpy() / 100, rtol=1e-9)


def test_par_bond_prices_at_par_and_loses_when_yields_rise():
    assert par_bond_price(np.array([0.05]), np.array([0.05]), 20.0)[0] == pytest.approx(1.0)
    r = bond_monthly_returns(
        pd.Series([5.0, 6.0, 6.0], index=pd.date_range("2000-01-01", periods=3, freq="MS"))
    )
    assert r.iloc[0] < -0.08 and r.iloc[1] == pytest.approx(0.06 / 12, rel=1e-6)


def test_bond_is_point_in_time_a_later_yield_never_moves_earlier_values():
    yields = moodys_aaa().loc["1995":"2000"]
    days = sessions(dt.date(1996, 1, 2), dt.date(2000, 1, 1))
    base = bond_index(yields, days)
    shocked = yields.copy()
    shocked.loc["1998-06-01":] += 3.0
    moved = bond_index(shocked, days)
    before = base.index < pd.Timestamp("1998-07-01")  # June's yield is known at June's end
    pd.testing.assert_series_equal(base[before], moved[before])
    assert not np.allclose(base[~before], moved[~before])


def test_cash_stops_where_its_rate_stops():
    rf = pd.Series([0.5, 0.5], index=pd.to_datetime(["2020-01-01", "2020-02-01"]))
    index = cash_index(rf, sessions(dt.date(2020, 1, 2), dt.date(2020, 4, 1)))
    assert index.index.max() == pd.Timestamp("2020-02-28")


def test_sample_prices_keeps_the_stocks_and_benchmark_and_sample_all_adds_the_safe_sleeve():
    stocks = sample_prices("SP500")
    assert len(set(stocks["ticker"])) == 21 and not {"CASH", "BOND"} & set(stocks["ticker"])
    everything = sample_all("SP500")
    assert set(everything["ticker"]) == set(stocks["ticker"]) | {"CASH", "BOND"}
