"""Metrics against their textbook definitions on hand-computed cases; PSR, DSR and PBO (CSCV)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, spearmanr

from portfolio_dagster.quant import metrics, overfitting

R = np.array([0.01, -0.02, 0.03, 0.0, -0.01])


def test_return_and_risk_metrics_by_hand():
    # Equity 1.01, 0.9898, 1.019494, 1.019494, 1.00929906: the peak 1.01 falls to 0.9898 (-2%).
    assert metrics.max_drawdown(R) == pytest.approx(-0.02)
    assert metrics.drawdown(R)[-1] == pytest.approx(1.00929906 / 1.019494 - 1)
    mean, sd = 0.002, math.sqrt((0.008**2 + 0.022**2 + 0.028**2 + 0.002**2 + 0.012**2) / 4)
    assert metrics.sharpe(R) == pytest.approx(mean / sd * math.sqrt(252))
    downside = math.sqrt((0.02**2 + 0.01**2) / 5) * math.sqrt(252)
    assert metrics.sortino(R) == pytest.approx(mean * 252 / downside)
    assert metrics.cagr(R) == pytest.approx(1.00929906 ** (252 / 5) - 1)
    perf = metrics.performance(R, np.array([1.0, 0, 0, 0.5, 0]), None)
    assert perf["hit_rate"] == pytest.approx(0.4)
    assert perf["profit_factor"] == pytest.approx(0.04 / 0.03)
    assert perf["annual_volatility"] == pytest.approx(sd * math.sqrt(252))
    assert perf["calmar"] == pytest.approx(perf["annual_return"] / 0.02)
    assert perf["turnover"] == pytest.approx(1.5 / (5 / 252))
    assert math.isnan(perf["information_ratio"])


def test_information_ratio_is_active_return_over_tracking_error():
    bench = np.array([0.0, -0.01, 0.02, 0.01, 0.0])
    active = R - bench
    expected = active.mean() / active.std(ddof=1) * math.sqrt(252)
    assert metrics.information_ratio(R, bench) == pytest.approx(expected)
    assert math.isnan(metrics.information_ratio(bench, bench))      # no tracking error: undefined


def test_rolling_metrics_match_a_window_computed_directly():
    rng = np.random.default_rng(2)
    net = pd.Series(rng.normal(0.0005, 0.01, 400), index=pd.bdate_range("2005-01-03", periods=400))
    out = metrics.rolling(net, 100)
    assert out["rolling_sharpe"].iloc[:99].isna().all()
    window = net.iloc[200:300].to_numpy()
    assert out["rolling_sharpe"].iloc[299] == pytest.approx(metrics.sharpe(window))
    assert out["rolling_return"].iloc[299] == pytest.approx(np.prod(1 + window) ** (252 / 100) - 1)
    np.testing.assert_allclose(out["drawdown"], metrics.drawdown(net.to_numpy()))


def test_stress_windows_restart_equity_at_the_window_start():
    days = pd.bdate_range("2008-01-01", periods=6)
    net = pd.Series([-0.5, 0.1, -0.1, 0.2, -0.3, 0.0], index=days)
    out = metrics.window_drawdowns(net, (("w", "2008-01-02", "2008-01-04"), ("none", "1990-01-01", "1990-02-01")))
    assert list(out["period"]) == ["w"]                     # windows outside the data are left out
    assert out["max_drawdown"].iat[0] == pytest.approx(metrics.max_drawdown(np.array([0.1, -0.1, 0.2])))
    assert out["total_return"].iat[0] == pytest.approx(1.1 * 0.9 * 1.2 - 1)


def test_by_regime_groups_days_by_state():
    days = pd.bdate_range("2010-01-01", periods=6)
    net = pd.Series([0.01, 0.02, -0.01, 0.03, -0.02, 0.0], index=days)
    state = pd.Series([None, "calm", "calm", "turbulent", "turbulent", "turbulent"], index=days)
    out = metrics.by_regime(net, state).set_index("state")
    assert out.loc["calm", "days"] == 2 and out.loc["turbulent", "days"] == 3
    assert out.loc["calm", "annual_return"] == pytest.approx(0.005 * 252)
    assert out.loc["turbulent", "hit_rate"] == pytest.approx(1 / 3)
    assert out["share_of_days"].sum() == pytest.approx(1.0)


def test_monthly_returns_compound_within_the_month():
    days = pd.to_datetime(["2011-01-03", "2011-01-04", "2011-02-01"])
    table = metrics.monthly_returns(pd.Series([0.1, 0.1, -0.05], index=days))
    assert table.loc[2011, 1] == pytest.approx(0.21)
    assert table.loc[2011, 2] == pytest.approx(-0.05)
    assert np.isnan(table.loc[2011, 3]) and list(table.columns) == list(range(1, 13))


def test_skill_reports_base_rate_and_ic():
    frame = pd.DataFrame({"date": [1, 1, 1, 2, 2, 2], "prediction": [1, 2, 3, 3, 2, 1],
                          "realized": [0.1, 0.2, 0.3, -0.1, -0.2, 0.3]})
    skill = metrics.forecast_skill(frame)
    assert skill["base_rate"] == pytest.approx(4 / 6)
    assert skill["ic"] == pytest.approx((1.0 + -0.5) / 2)
    assert skill["directional_accuracy"] == pytest.approx(4 / 6)


def test_grouped_rank_ic_equals_scipy_spearman_per_date_with_ties():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"date": np.repeat(np.arange(30), 8), "prediction": rng.integers(0, 4, 240).astype(float),
                          "realized": rng.normal(size=240)})
    frame.loc[frame["date"] == 7, "prediction"] = 1.0       # constant: no IC that day
    ic = metrics.daily_rank_ic(frame)
    expected = {d: spearmanr(g["prediction"], g["realized"]).statistic for d, g in frame.groupby("date")
                if g["prediction"].nunique() > 1}
    assert set(ic.index) == set(expected)
    np.testing.assert_allclose(ic.to_numpy(), [expected[d] for d in ic.index], atol=1e-12)


def test_probabilistic_sharpe_textbook_formula():
    rng = np.random.default_rng(0)
    r = rng.standard_t(5, 1000) * 0.01 + 0.0008
    sr = r.mean() / r.std(ddof=1)
    m = r - r.mean()
    g3 = (m**3).mean() / (m**2).mean() ** 1.5
    g4 = (m**4).mean() / (m**2).mean() ** 2
    expected = norm.cdf((sr - 0.01) * math.sqrt(999) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    assert overfitting.probabilistic_sharpe(r, 0.01) == pytest.approx(expected, rel=1e-10)


def test_deflated_sharpe_falls_with_the_number_of_trials():
    rng = np.random.default_rng(1)
    r = rng.normal(0.0006, 0.01, 2000)
    one = overfitting.deflated_sharpe(r, 1)
    assert one == pytest.approx(overfitting.probabilistic_sharpe(r, 0.0))
    many = [overfitting.deflated_sharpe(r, n, 0.02) for n in (2, 10, 100, 1000)]
    assert one > many[0] > many[1] > many[2] > many[3]
    # Expected max of N standard normals (Bailey & Lopez de Prado's approximation), N=100: ~2.5.
    assert overfitting.expected_max_sharpe(100, 1.0) == pytest.approx(2.53, abs=0.02)


def test_pbo_is_high_for_pure_noise_and_low_for_a_truly_better_variant():
    rng = np.random.default_rng(9)
    noise = rng.normal(0, 0.01, (2000, 20))
    assert overfitting.pbo_cscv(noise)["pbo"] > 0.3
    skilled = noise.copy()
    skilled[:, 0] += 0.003                                  # one variant really is better everywhere
    out = overfitting.pbo_cscv(skilled)
    assert out["pbo"] < 0.05 and out["splits"] == 12870     # C(16, 8)


def test_pbo_matches_a_direct_cscv_loop():
    rng = np.random.default_rng(3)
    m = rng.normal(0.0002, 0.01, (240, 5)) + rng.normal(0, 0.0005, 5)
    blocks = 6
    parts = np.array_split(np.arange(240), blocks)
    import itertools
    logits = []
    for combo in itertools.combinations(range(blocks), blocks // 2):
        ins = np.concatenate([parts[i] for i in combo])
        outs = np.concatenate([parts[i] for i in range(blocks) if i not in combo])
        sr_in = m[ins].mean(0) / m[ins].std(0, ddof=1)
        sr_out = m[outs].mean(0) / m[outs].std(0, ddof=1)
        best = np.argmax(sr_in)
        omega = (1 + np.sum(sr_out < sr_out[best])) / 6
        logits.append(math.log(omega / (1 - omega)))
    out = overfitting.pbo_cscv(m, blocks)
    assert out["pbo"] == pytest.approx(np.mean(np.array(logits) <= 0))
    assert out["logit_median"] == pytest.approx(np.median(logits))
