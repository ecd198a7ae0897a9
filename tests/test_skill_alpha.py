"""Alphas scaled by measured skill and the Kelly covariance with forecast volatilities (quant/alpha.py,
signals.build_signals(skill_alpha=..., volatility=...)) on labelled synthetic markets."""

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import alpha
from portfolio_dagster.quant.signals import ML, RULE_BASED, SIGNAL_COLUMNS, build_signals
from tests.strategy_data import HORIZON, forecasts_from, market

KW = dict(mode=ML, horizon=HORIZON, kelly_fraction=0.5, covariance_days=60)


def _setup(ic: float):
    close, *_ = market(n_days=420)
    fc = forecasts_from(close, 0.5)
    fc = fc[fc.date >= close.index[300]].assign(ic=ic)
    return close, fc, close.index[280:]


def test_no_skill_adds_nothing_ml_mode_equals_the_rule():
    close, fc, dates = _setup(ic=-0.05)
    ml = build_signals(fc, close, dates, skill_alpha=True, **KW)
    rule = build_signals(fc, close, dates, **(KW | {"mode": RULE_BASED}))
    assert list(ml.columns) == SIGNAL_COLUMNS
    pd.testing.assert_frame_equal(ml.drop(columns="source"), rule.drop(columns="source"))
    assert set(ml["source"]) == {RULE_BASED}


def test_positive_skill_adds_score_times_ic_times_volatility():
    close, fc, dates = _setup(ic=0.04)
    vol = fc[["ticker", "date"]].assign(volatility=0.05)
    ml = build_signals(fc, close, dates, skill_alpha=True, volatility=vol, **KW)
    rule = build_signals(fc, close, dates, **(KW | {"mode": RULE_BASED}))
    joined = ml.merge(rule, on=["ticker", "date"], suffixes=("", "_rule")).merge(fc, on=["ticker", "date"])
    score = alpha.cross_sectional_score(joined)
    assert np.allclose(joined["expected_return"] - joined["expected_return_rule"], score * 0.04 * 0.05)
    assert set(ml.loc[ml["date"] >= close.index[300], "source"]) == {ML}
    # Cross-sectional scores: the alpha sums to zero across the names each date.
    assert np.allclose(
        (joined["expected_return"] - joined["expected_return_rule"]).groupby(joined["date"]).sum(), 0
    )


def test_forecast_volatility_sets_the_kelly_diagonal_and_keeps_correlations():
    cov = np.array([[0.04, 0.012], [0.012, 0.09]])
    out = alpha.covariance_with_volatility(cov, np.array([0.4, np.nan]))
    assert out[0, 0] == pytest.approx(0.16) and out[1, 1] == pytest.approx(0.09)
    assert out[0, 1] / np.sqrt(out[0, 0] * out[1, 1]) == pytest.approx(0.012 / np.sqrt(0.04 * 0.09))


def test_a_riskier_forecast_shrinks_the_rule_position():
    close, fc, dates = _setup(ic=0.0)
    rule_kw = KW | {"mode": RULE_BASED}
    base = build_signals(fc, close, dates, **rule_kw)
    calm = base[["ticker", "date"]].assign(volatility=0.02)
    wild = calm.assign(volatility=0.08)
    a = build_signals(fc, close, dates, volatility=calm, **rule_kw)
    b = build_signals(fc, close, dates, volatility=wild, **rule_kw)
    pd.testing.assert_series_equal(a["expected_return"], base["expected_return"])
    sized = a["position_size"].abs() > 0
    # Four times the volatility on every name: a sixteenth of the Kelly size.
    assert np.allclose(b.loc[sized, "position_size"] * 16, a.loc[sized, "position_size"])
