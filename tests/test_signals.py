"""Signals: ML expectations from the ensemble, the rule-based fallback and fractional Kelly sizes."""

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import ledoit_wolf

from portfolio_dagster.quant.signals import (
    ML,
    RULE_BASED,
    SIGNAL_COLUMNS,
    build_signals,
    kelly_weights,
    monthly_covariances,
)
from tests.strategy_data import HORIZON, forecasts_from, market


def test_kelly_is_fraction_times_inverse_covariance_times_mu():
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    mu = np.array([0.02, 0.01])
    w = kelly_weights(mu, cov, 0.5)
    assert np.allclose(cov @ w, 0.5 * mu)


def test_ml_signals_where_forecasts_exist_and_rule_based_elsewhere():
    close, *_ = market(n_days=400)
    fc = forecasts_from(close, 0.5)
    fc = fc[fc.date >= close.index[300]]
    sig = build_signals(
        fc, close, close.index[260:], mode="ml", horizon=HORIZON, kelly_fraction=0.5, covariance_days=60
    )
    assert list(sig.columns) == SIGNAL_COLUMNS
    assert set(sig.loc[sig.date >= close.index[300], "source"]) == {ML}
    assert set(sig.loc[sig.date < close.index[300], "source"]) == {RULE_BASED}
    assert sig["confidence"].between(0.5, 1.0).all() and np.isfinite(sig["position_size"]).all()
    ml = sig[sig.source == ML].merge(fc, on=["ticker", "date"])
    assert np.allclose(ml["expected_return"], ml["prediction"])


def test_position_size_uses_the_previous_months_shrunk_covariance():
    close, *_ = market(n_days=300)
    fc = forecasts_from(close, 0.5)
    sig = build_signals(
        fc, close, close.index[200:], mode="ml", horizon=HORIZON, kelly_fraction=0.5, covariance_days=60
    )
    day = sig[sig.date == sig.date.max()].set_index("ticker")
    prev_end = close.index[close.index < pd.Timestamp(sig.date.max()).to_period("M").start_time][-1]
    window = close.pct_change().loc[:prev_end].iloc[-60:]
    cov, _ = ledoit_wolf(window.to_numpy())
    expected = 0.5 * np.linalg.solve(cov * HORIZON, day.loc[window.columns, "expected_return"].to_numpy())
    assert np.allclose(day.loc[window.columns, "position_size"], expected)
    covs = monthly_covariances(close, 60)
    assert all(len(names) == close.shape[1] for names, _ in covs.values())


def test_signals_point_in_time():
    close, *_ = market(n_days=350)
    t = close.index[300]
    fc = forecasts_from(close, 0.0)
    base = build_signals(
        fc[fc.date <= t],
        close.loc[:t],
        close.index[260:301],
        mode="ml",
        horizon=HORIZON,
        kelly_fraction=0.5,
        covariance_days=60,
    )
    shocked = close.copy()
    shocked.loc[shocked.index > t] *= 3.0
    again = build_signals(
        fc[fc.date <= t],
        shocked,
        close.index[260:],
        mode="ml",
        horizon=HORIZON,
        kelly_fraction=0.5,
        covariance_days=60,
    )
    pd.testing.assert_frame_equal(base, again[again.date <= t].reset_index(drop=True))


def test_rule_based_mode_ignores_forecasts():
    close, *_ = market(n_days=320)
    sig = build_signals(
        forecasts_from(close, 0.5),
        close,
        close.index[260:],
        mode="rule_based",
        horizon=HORIZON,
        kelly_fraction=0.5,
        covariance_days=60,
    )
    assert set(sig["source"]) == {RULE_BASED} and len(sig) == 60 * close.shape[1]
    assert sig["confidence"].between(0.5, 1.0).all()
    assert sig.equals(
        build_signals(
            pd.DataFrame(),
            close,
            close.index[260:],
            mode="ml",
            horizon=HORIZON,
            kelly_fraction=0.5,
            covariance_days=60,
        )
    )


@pytest.mark.parametrize("fraction", [0.25, 1.0])
def test_kelly_scales_with_the_fraction(fraction):
    close, *_ = market(n_days=300)
    fc = forecasts_from(close, 0.5)
    kw = dict(mode="ml", horizon=HORIZON, covariance_days=60)
    half = build_signals(fc, close, close.index[250:], kelly_fraction=0.5, **kw)
    other = build_signals(fc, close, close.index[250:], kelly_fraction=fraction, **kw)
    assert np.allclose(other["position_size"], half["position_size"] * fraction / 0.5)


@pytest.mark.parametrize("skill_alpha", [False, True])
def test_a_session_past_the_last_price_yields_an_empty_signal_table(skill_alpha):
    # A real-clock tick after the data ends: no closes in the window, nothing to decide (was a KeyError).
    close, *_ = market(n_days=400)
    fc = forecasts_from(close, 0.5)
    for prices, dates in ((close, pd.DatetimeIndex([])), (pd.DataFrame(), pd.DatetimeIndex([]))):
        sig = build_signals(
            fc,
            prices,
            dates,
            mode="ml",
            horizon=HORIZON,
            kelly_fraction=0.5,
            covariance_days=60,
            skill_alpha=skill_alpha,
        )
        assert sig.empty and list(sig.columns) == SIGNAL_COLUMNS
