"""The barbell allocation and its controls on synthetic markets (tests/strategy_data.py)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import barbell, risk_controls
from portfolio_dagster.quant.allocation import PriorState, allocate
from portfolio_dagster.quant.allocation_policy import cap_weights
from portfolio_dagster.quant.allocation_reasons import DRAWDOWN, EMERGENCY, control_shares
from tests.strategy_data import forecasts_from, inputs, market, strategy


def _valid(alloc: pd.DataFrame, cap: float) -> None:
    assert np.isfinite(alloc["weight"]).all() and (alloc["weight"] >= 0).all()
    assert np.allclose(alloc.groupby("date")["weight"].sum(), 1.0)
    assert (alloc.loc[alloc.sleeve == "risky", "weight"] <= cap + 1e-12).all()


def _run(s=None, skill=0.6, bond=True, flag_from=None, rebalance="monthly", seed=0):
    s = s or strategy()
    close, safe, regimes = market(seed=seed, bond=bond)
    dates, m = inputs(close, safe, regimes, forecasts_from(close, skill), s, rebalance, flag_from)
    return allocate(dates, m, s), dates, m, s


def test_barbell_is_valid_holds_risky_names_and_a_safe_sleeve_with_the_bond():
    alloc, dates, _, s = _run()
    _valid(alloc, s.max_position)
    assert set(alloc["date"]) == set(dates)
    risky = alloc[alloc.sleeve == "risky"].groupby("date")["weight"].sum()
    assert risky.max() > 0.2 and risky.max() <= s.risky_share + 1e-12
    assert {"CASH", "BOND"} <= set(alloc.loc[alloc.sleeve == "safe", "ticker"])


def test_without_a_bond_series_the_safe_sleeve_is_cash():
    alloc, _, _, s = _run(bond=False)
    _valid(alloc, s.max_position)
    assert set(alloc.loc[alloc.sleeve == "safe", "ticker"]) == {"CASH"}
    assert alloc.loc[alloc.ticker == "CASH", "reasons"].str.contains("bond_unavailable").all()


def test_config_emergency_stop_puts_everything_in_the_safe_sleeve():
    alloc, _, _, _ = _run(strategy(emergency_stop=True))
    assert alloc.loc[alloc.sleeve == "risky", "weight"].eq(0).all()
    assert alloc.loc[alloc.ticker == "CASH", "reasons"].str.contains(EMERGENCY).all()


def test_operations_flag_applies_from_its_evidence_date_only():
    close, *_ = market()
    flag = close.index[300]
    alloc, _, _, _ = _run(flag_from=flag.date())
    after = alloc[alloc.date >= flag]
    assert after.loc[after.sleeve == "risky", "weight"].eq(0).all()
    assert alloc[(alloc.date < flag) & (alloc.sleeve == "risky")]["weight"].sum() > 0


def test_operations_emergency_applies_only_inside_its_period():
    s = strategy()
    closes, safe, regimes = market()
    on, off = closes.index[250], closes.index[300]
    dates, m = inputs(closes, safe, regimes, forecasts_from(closes, 0.6), s)
    m = dataclasses.replace(m, emergency_periods=((on.date(), off.date()),))
    alloc = allocate(dates, m, s)
    alloc["date"] = pd.to_datetime(alloc["date"])
    inside = alloc[(alloc.date >= on) & (alloc.date < off)]
    assert inside.loc[inside.sleeve == "risky", "weight"].eq(0).all()
    assert inside.loc[inside.ticker == "CASH", "reasons"].str.contains(EMERGENCY).all()
    assert (
        not alloc.loc[(alloc.date >= off) & (alloc.ticker == "CASH"), "reasons"].str.contains(EMERGENCY).any()
    )


def test_poor_live_accuracy_triggers_the_emergency_stop():
    alloc, _, m, s = _run(skill=-0.9)
    acc = risk_controls.live_accuracy(m.signals, m.close, s.signal_horizon, m.accuracy_window)
    bad = acc[acc < 0.45].index
    assert len(bad) > 0
    cash = alloc[alloc.ticker == "CASH"].set_index("date")
    assert cash.loc[cash.index.intersection(bad), "reasons"].str.contains(EMERGENCY).all()
    assert alloc[alloc.date.isin(bad) & (alloc.sleeve == "risky")]["weight"].eq(0).all()


def test_drawdown_beyond_the_trigger_scales_the_risky_sleeve():
    s = strategy(drawdown_trigger=0.02, drawdown_risky_scale=0.25, max_turnover=1.0)
    alloc, _, _, _ = _run(s)
    _valid(alloc, s.max_position)
    under = alloc[alloc.reasons.str.contains(DRAWDOWN)]
    assert len(under) > 0
    risky = under[under.sleeve == "risky"]
    assert np.allclose(risky["weight"], 0.25 * risky["policy_weight"])


def test_rule_based_mode_uses_momentum_and_the_same_controls():
    s = strategy(mode="rule_based")
    alloc, _, m, _ = _run(s)
    _valid(alloc, s.max_position)
    assert (m.signals["source"] == "rule_based").all()
    # Momentum needs a year of history: before it there are no candidates; after it every date is rule-based.
    reasons = alloc.loc[alloc.ticker == "CASH", "reasons"]
    with_signals = reasons[~reasons.str.contains("no_candidates")]
    assert len(with_signals) > 100 and with_signals.str.contains("rule_based").all()
    assert alloc.loc[alloc.sleeve == "risky", "weight"].sum() > 0


def test_turnover_between_rebalances_is_bounded():
    s = strategy(max_turnover=0.1)
    alloc, _, _, _ = _run(s, rebalance="weekly")
    policy = alloc.pivot(index="date", columns="ticker", values="policy_weight").fillna(0.0)
    assert (0.5 * policy.diff().abs().sum(axis=1).iloc[1:] <= 0.1 + 1e-9).all()


def test_resuming_from_stored_allocations_matches_one_full_run():
    alloc, dates, m, s = _run()
    cut = dates[150]
    before = alloc[alloc.date < cut]
    prior = PriorState(
        policy=before[before.date == before.date.max()].set_index("ticker")["policy_weight"],
        weights=before.pivot(index="date", columns="ticker", values="weight").fillna(0.0),
        codes=frozenset(
            before[(before.date == before.date.max()) & (before.ticker == "CASH")]["reasons"]
            .iat[0]
            .split(",")
        ),
    )
    resumed = allocate(dates[dates >= cut], m, s, prior)
    pd.testing.assert_frame_equal(
        resumed.reset_index(drop=True), alloc[alloc.date >= cut].reset_index(drop=True)
    )


def test_point_in_time_prices_after_t_do_not_change_allocations_up_to_t():
    close, safe, regimes = market()
    s = strategy()
    fc = forecasts_from(close, 0.5)
    t = close.index[250]
    dates, m = inputs(close, safe, regimes, fc[fc.date <= t], s)
    base = allocate(dates[dates <= t], m, s)
    shocked = close.copy()
    shocked.loc[shocked.index > t] *= np.linspace(0.5, 2.0, shocked.shape[1])
    safe2 = safe.copy()
    safe2.loc[safe2.index > t] *= 1.3
    dates2, m2 = inputs(shocked, safe2, regimes, fc[fc.date <= t], s)
    again = allocate(dates2, m2, s)
    pd.testing.assert_frame_equal(base, again[again.date <= t].reset_index(drop=True))


def test_deterministic():
    a, *_ = _run()
    b, *_ = _run()
    pd.testing.assert_frame_equal(a, b)


def test_control_shares_and_cap_weights():
    alloc, *_ = _run(strategy(emergency_stop=True))
    assert control_shares(alloc, "CASH")[EMERGENCY] == 1.0
    w = cap_weights(np.array([5.0, 1.0, 0.0]), total=0.8, cap=0.3)
    assert w.max() <= 0.3 + 1e-12 and w[2] == 0


def test_regime_risk_off_ranks_states_by_their_volatility_whatever_their_names():
    days = pd.bdate_range("2005-01-03", periods=200)
    calm = np.arange(200) % 2 == 0
    vol = pd.Series(np.where(calm, 0.1, 0.4), index=days)
    regimes = pd.DataFrame(
        {
            "date": days,
            "state": np.where(calm, "zen", "panic"),
            "probabilities": [
                '{"zen": 1.0, "panic": 0.0}' if c else '{"zen": 0.0, "panic": 1.0}' for c in calm
            ],
        }
    )
    risk = barbell.regime_risk_off(barbell.regime_probabilities(regimes), vol, days)
    assert (risk[~calm][5:] == 1.0).all() and (risk[calm][5:] == 0.0).all()


def test_bond_duration_follows_bond_momentum_and_stops_where_the_series_ends():
    days = pd.bdate_range("2005-01-03", periods=120)
    bond = pd.Series(np.r_[np.linspace(100, 110, 60), np.linspace(110, 100, 60)], index=days).iloc[:100]
    out = barbell.bond_share(bond, None, days, momentum_days=10, long_share=0.8, short_share=0.2)
    assert out.loc[days[50], "share"] == pytest.approx(0.8) and out.loc[days[90], "share"] == pytest.approx(
        0.2
    )
    assert not out.loc[days[110] :, "available"].any() and (out.loc[days[110] :, "share"] == 0).all()


def test_a_bond_without_prices_for_years_is_unavailable_on_a_short_range():
    """Staleness counts exchange sessions, not rows: a daily run years after the series ended (the
    sample's BOND ends 2019-01-31) must not see the bond as fresh."""
    history = pd.bdate_range("2018-01-02", "2019-01-31")
    bond = pd.Series(np.linspace(100, 110, len(history)), index=history)
    cash = pd.Series(np.linspace(100, 102, len(history)), index=history)
    late = pd.DatetimeIndex(["2022-12-22", "2022-12-23"])
    out = barbell.bond_share(bond, cash, late, momentum_days=63, long_share=0.75, short_share=0.25)
    assert not out["available"].any() and (out["share"] == 0).all()
    fresh = barbell.bond_share(bond, cash, history[-2:], momentum_days=63, long_share=0.75, short_share=0.25)
    assert fresh["available"].all()
