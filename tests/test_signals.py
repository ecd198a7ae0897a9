"""Signals: ML expectations from the ensemble, the rule-based fallback and fractional Kelly sizes."""

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import ledoit_wolf

from portfolio_dagster.quant.alpha import covariance_with_volatility
from portfolio_dagster.quant.signals import (
    ML,
    RULE_BASED,
    SIGNAL_COLUMNS,
    _kelly_block,
    add_kelly_sizes,
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


def _kelly_per_date(exp, close, horizon, fraction, covariance_days, volatility):
    """The Kelly sizes one date at a time with a dense solve: what add_kelly_sizes' batched factor
    must reproduce."""
    covs = monthly_covariances(close, covariance_days)
    vol = exp.merge(volatility, on=["ticker", "date"], how="left")["volatility"].to_numpy()
    tickers, mu = exp["ticker"].to_numpy(), exp["expected_return"].to_numpy()
    size = np.zeros(len(exp))
    for date, rows in exp.groupby("date").indices.items():
        if (entry := covs.get(pd.Timestamp(date).to_period("M"))) is None:
            continue
        names, cov = entry
        have = np.array([r for r in rows if tickers[r] in names], dtype=int)
        sub = [names.index(t) for t in tickers[have]]
        cov_h = covariance_with_volatility(cov[np.ix_(sub, sub)] * horizon, vol[have])
        size[have] = kelly_weights(mu[have], cov_h, fraction)
    return size


def test_batched_kelly_equals_a_solve_per_date():
    """One Cholesky factor per month and set of names gives each date's dense solve: with names that
    list late and end early and risk forecasts for some rows only."""
    close, *_ = market(n_days=420)
    close.iloc[:150, 1] = np.nan  # lists late: absent from the first months' covariances
    close.iloc[-60:, 2] = np.nan  # ends early
    rng = np.random.default_rng(3)
    exp = close.stack().rename_axis(["date", "ticker"]).rename("close").reset_index()
    exp = exp[exp["date"] >= close.index[120]].sort_values(["date", "ticker"]).reset_index(drop=True)
    exp["expected_return"] = rng.normal(0.0, 0.02, len(exp))
    volatility = exp[["ticker", "date"]].sample(frac=0.4, random_state=1)
    volatility["volatility"] = rng.uniform(0.02, 0.2, len(volatility))
    got = add_kelly_sizes(exp, close, HORIZON, 0.5, 60, volatility)["position_size"].to_numpy()
    want = _kelly_per_date(exp, close, HORIZON, 0.5, 60, volatility)
    assert (want != 0).sum() > 0.8 * len(exp)
    assert np.allclose(got, want, rtol=1e-8, atol=1e-12)


def test_kelly_block_solves_each_date_where_the_correlations_do_not_factor():
    """An indefinite matrix has no Cholesky factor: each date is then solved densely, as before."""
    cov = np.array([[1.0, 2.0], [2.0, 1.0]]) * 1e-4
    mu = np.array([[0.01, -0.02], [0.03, 0.01]])
    vol = np.array([[np.nan, 0.05], [np.nan, np.nan]])
    got = _kelly_block(cov, mu, vol, HORIZON, 0.5)
    for j in range(2):
        cov_h = covariance_with_volatility(cov * HORIZON, vol[:, j])
        assert np.allclose(got[:, j], kelly_weights(mu[:, j], cov_h, 0.5))


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
