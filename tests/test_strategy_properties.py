"""Property tests (hypothesis) of the barbell on random synthetic markets and settings: weights are
finite, non-negative and sum to 1 per date with the safe sleeve; every risky weight is within the cap;
the emergency stop and the drawdown de-risking take effect; the output is deterministic."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_dagster.quant.allocation import allocate
from portfolio_dagster.quant.allocation_reasons import DRAWDOWN, EMERGENCY
from tests.strategy_data import forecasts_from, inputs, market, strategy

SETTINGS = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

cases = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 10_000),
        "n_assets": st.integers(1, 8),
        "drift": st.floats(-0.002, 0.002),
        "vol": st.floats(0.002, 0.05),
        "skill": st.floats(-1.0, 1.0),
        "bond": st.booleans(),
        "max_position": st.floats(0.02, 1.0),
        "min_confidence": st.floats(0.5, 0.9),
        "risky_share": st.floats(0.0, 1.0),
        "top_k": st.integers(1, 10),
        "max_turnover": st.floats(0.05, 1.0),
        "drawdown_trigger": st.floats(0.01, 0.5),
        "mode": st.sampled_from(["ml", "rule_based"]),
        "rebalance": st.sampled_from(["daily", "weekly", "monthly"]),
    }
)


def _run(c, **extra):
    close, safe, regimes = market(
        n_days=300, n_assets=c["n_assets"], seed=c["seed"], drift=c["drift"], vol=c["vol"], bond=c["bond"]
    )
    s = strategy(
        max_position=c["max_position"],
        min_confidence=c["min_confidence"],
        risky_share=c["risky_share"],
        top_k=c["top_k"],
        max_turnover=c["max_turnover"],
        drawdown_trigger=c["drawdown_trigger"],
        mode=c["mode"],
        **extra,
    )
    dates, m = inputs(
        close, safe, regimes, forecasts_from(close, c["skill"], seed=c["seed"]), s, c["rebalance"]
    )
    return allocate(dates, m, s), s


@SETTINGS
@given(cases)
def test_weights_are_a_valid_capped_long_only_book(c):
    alloc, s = _run(c)
    assert np.isfinite(alloc["weight"]).all() and (alloc["weight"] >= 0).all()
    assert np.allclose(alloc.groupby("date")["weight"].sum(), 1.0)
    assert (alloc.loc[alloc.sleeve == "risky", "weight"] <= s.max_position + 1e-12).all()
    assert (alloc.groupby("date")["ticker"].apply(lambda t: t.is_unique)).all()
    risky = alloc[alloc.sleeve == "risky"].groupby("date")["weight"].sum()
    assert (risky <= s.risky_share + 1e-9).all()
    # Drawdown de-risking: on flagged dates the risky book is the policy times the scale.
    dd = alloc[alloc.reasons.str.contains(DRAWDOWN) & (alloc.sleeve == "risky")]
    assert np.allclose(dd["weight"], s.drawdown_risky_scale * dd["policy_weight"])


@SETTINGS
@given(cases)
def test_emergency_stop_empties_the_risky_sleeve_and_is_deterministic(c):
    alloc, _ = _run(c, emergency_stop=True)
    assert alloc.loc[alloc.sleeve == "risky", "weight"].eq(0).all()
    assert alloc.loc[alloc.ticker == "CASH", "reasons"].str.contains(EMERGENCY).all()
    assert np.allclose(alloc.groupby("date")["weight"].sum(), 1.0)
    again, _ = _run(c, emergency_stop=True)
    assert alloc.equals(again)
