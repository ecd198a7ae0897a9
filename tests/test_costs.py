"""Transaction costs against their formulas on hand-computed cases: linear rate, scaling, the trailing
sigma/ADV inputs of the square-root impact law and the impact per sqrt(AUM)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import costs
from portfolio_dagster.quant.costs import CostModel


def test_defaults_and_linear_rate():
    model = CostModel()
    assert (model.commission_bps, model.half_spread_bps, model.impact_coefficient, model.aum_usd) == (
        10.0,
        0.0,
        1.0,
        10_000_000.0,
    )
    assert CostModel(7.0, 3.0).linear_rate == pytest.approx(10.0 / 1e4)
    trades = np.array([[0.1, -0.2, 0.0], [0.0, 0.0, 0.0], [-0.5, 0.5, 0.25]])
    np.testing.assert_allclose(costs.linear_cost(trades, CostModel(7.0, 3.0)), [0.3e-3, 0.0, 1.25e-3])


def test_scaled_multiplies_every_cost_component_but_not_the_book():
    model = CostModel(8.0, 4.0, 0.7, 2e7).scaled(2.5)
    assert (
        model.commission_bps,
        model.half_spread_bps,
        model.impact_coefficient,
        model.aum_usd,
    ) == pytest.approx((20.0, 10.0, 1.75, 2e7))


def _panels(days: int = 30):
    idx = pd.bdate_range("2010-01-04", periods=days)
    rng = np.random.default_rng(3)
    close = pd.DataFrame(
        {
            "A": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, days))),
            "B": 50 * np.exp(np.cumsum(rng.normal(0, 0.02, days))),
        },
        index=idx,
    )
    volume = pd.DataFrame(
        {
            "A": rng.integers(1_000, 5_000, days).astype(float),
            "B": rng.integers(100, 900, days).astype(float),
        },
        index=idx,
    )
    return close, volume


def test_impact_inputs_are_trailing_sigma_and_dollar_volume():
    close, volume = _panels()
    window = 5
    out = costs.impact_inputs(close, volume, window=window)
    returns = close.pct_change()
    # NaN until a full window of returns (the first return is at row 1) and dollar volume exist.
    assert out.sigma["A"].iloc[:window].isna().all() and pd.notna(out.sigma["A"].iloc[window])
    assert out.adv_usd["A"].iloc[: window - 1].isna().all() and pd.notna(out.adv_usd["A"].iloc[window - 1])
    for day in (10, 29):
        assert out.sigma["B"].iloc[day] == pytest.approx(
            returns["B"].iloc[day - window + 1 : day + 1].std(ddof=1)
        )
        dollar = (close["A"] * volume["A"]).iloc[day - window + 1 : day + 1]
        assert out.adv_usd["A"].iloc[day] == pytest.approx(dollar.mean())
    assert costs.IMPACT_WINDOW_DAYS == 21
    default = costs.impact_inputs(close, volume)
    assert default.adv_usd["A"].iloc[:20].isna().all() and pd.notna(default.adv_usd["A"].iloc[20])


def test_impact_inputs_without_volume_need_an_explicit_fallback():
    close, volume = _panels()
    assert costs.impact_inputs(close, None) is None
    assert costs.impact_inputs(close, volume * np.nan) is None
    out = costs.impact_inputs(close, None, window=5, fallback_adv_usd=2e6)
    assert (out.adv_usd == 2e6).all().all()
    assert out.sigma["A"].iloc[5] == pytest.approx(close["A"].pct_change().iloc[1:6].std(ddof=1))
    # Zero volume is no volume: the fallback fills those cells, real volume elsewhere is kept.
    partly = volume.copy()
    partly.iloc[:, 0] = 0.0
    mixed = costs.impact_inputs(close, partly, window=5, fallback_adv_usd=1e6)
    assert (mixed.adv_usd["A"] == 1e6).all()
    assert mixed.adv_usd["B"].iloc[10] == pytest.approx((close["B"] * volume["B"]).iloc[6:11].mean())
    # Without a fallback those cells stay unknown (NaN), not zero.
    assert costs.impact_inputs(close, partly, window=5).adv_usd["A"].isna().all()
    assert all(t == np.dtype("float64") for t in [*out.adv_usd.dtypes, *mixed.adv_usd.dtypes])
    # Any positive dollar volume counts, however small (a penny stock's thin day).
    thin = costs.impact_inputs(close * 0 + 0.5, volume * 0 + 1.0, window=5)
    assert thin.adv_usd["A"].iloc[4] == pytest.approx(0.5)


def test_impact_per_sqrt_aum_is_the_square_root_law():
    trades = np.array([[0.1, -0.04, 0.0], [0.2, 0.0, 0.3]])
    sigma = np.array([[0.02, 0.01, 0.03], [0.02, np.nan, 0.01]])
    adv = np.array([[1e6, 4e6, 1e6], [1e6, 1e6, np.nan]])
    out = costs.impact_per_sqrt_aum(trades, sigma, adv, 0.8)
    first = 0.8 * 0.02 * 0.1**1.5 / math.sqrt(1e6) + 0.8 * 0.01 * 0.04**1.5 / math.sqrt(4e6)
    second = 0.8 * 0.02 * 0.2**1.5 / math.sqrt(1e6)  # unknown sigma or ADV: nothing charged
    np.testing.assert_allclose(out, [first, second], rtol=1e-12)
    # Times sqrt(AUM) it is Y * sigma * sqrt(|dw| AUM / ADV) * |dw|, the module's formula.
    aum = 5e7
    assert out[0] * math.sqrt(aum) == pytest.approx(
        0.8 * 0.02 * math.sqrt(0.1 * aum / 1e6) * 0.1 + 0.8 * 0.01 * math.sqrt(0.04 * aum / 4e6) * 0.04
    )
    # Zero ADV (division by zero) and no trade contribute nothing.
    zero_adv = costs.impact_per_sqrt_aum(
        np.array([[0.1, 0.0]]), np.array([[0.02, 0.02]]), np.array([[0.0, 1e6]]), 1.0
    )
    assert zero_adv.tolist() == [0.0]
