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
    cagr = 1.00929906 ** (252 / 5) - 1
    assert perf["annual_return"] == pytest.approx(cagr)
    assert perf["calmar"] == pytest.approx(cagr / 0.02)  # hand values, not the code's own output
    assert perf["sharpe"] == pytest.approx(mean / sd * math.sqrt(252))
    assert perf["sortino"] == pytest.approx(mean * 252 / downside)
    assert perf["max_drawdown"] == pytest.approx(-0.02)
    assert perf["turnover"] == pytest.approx(1.5 / (5 / 252))
    assert math.isnan(perf["information_ratio"])  # no benchmark: undefined
    bench = np.array([0.0, -0.01, 0.02, 0.01, 0.0])
    active = R - bench
    with_bench = metrics.performance(R, np.zeros(5), bench)
    assert with_bench["information_ratio"] == pytest.approx(
        active.mean() / active.std(ddof=1) * math.sqrt(252)
    )
    assert with_bench["turnover"] == 0.0


def test_degenerate_series_give_nan_not_a_number_that_looks_real():
    flat = np.zeros(10)
    perf = metrics.performance(flat, np.zeros(10), flat)
    for key in ("sharpe", "sortino", "calmar", "profit_factor", "information_ratio"):
        assert math.isnan(perf[key]), key
    assert perf["max_drawdown"] == 0.0 and perf["hit_rate"] == 0.0 and perf["annual_return"] == 0.0
    assert math.isnan(metrics.sharpe(np.array([0.01])))
    assert math.isnan(metrics.cagr(np.array([-1.0, 0.1])))  # equity wiped out: no growth rate
    assert metrics.max_drawdown(np.array([])) == 0.0
    gains_only = metrics.performance(np.array([0.01, 0.02, 0.0]), np.zeros(3), None)
    assert math.isnan(gains_only["profit_factor"]) and math.isnan(gains_only["calmar"])
    assert gains_only["hit_rate"] == pytest.approx(2 / 3)


def test_information_ratio_is_active_return_over_tracking_error():
    bench = np.array([0.0, -0.01, 0.02, 0.01, 0.0])
    active = R - bench
    expected = active.mean() / active.std(ddof=1) * math.sqrt(252)
    assert metrics.information_ratio(R, bench) == pytest.approx(expected)
    assert math.isnan(metrics.information_ratio(bench, bench))  # no tracking error: undefined


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
    out = metrics.window_drawdowns(
        net, (("w", "2008-01-02", "2008-01-04"), ("none", "1990-01-01", "1990-02-01"))
    )
    assert list(out["period"]) == ["w"]  # windows outside the data are left out
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
    assert (table.index.name, table.columns.name) == ("year", "month")
    assert table.loc[2011, 1] == pytest.approx(0.21)
    assert table.loc[2011, 2] == pytest.approx(-0.05)
    assert np.isnan(table.loc[2011, 3]) and list(table.columns) == list(range(1, 13))


def test_skill_reports_base_rate_and_ic():
    frame = pd.DataFrame(
        {
            "date": [1, 1, 1, 2, 2, 2],
            "prediction": [1, 2, 3, 3, 2, 1],
            "realized": [0.1, 0.2, 0.3, -0.1, -0.2, 0.3],
        }
    )
    skill = metrics.forecast_skill(frame)
    assert skill["base_rate"] == pytest.approx(4 / 6)
    assert skill["ic"] == pytest.approx((1.0 + -0.5) / 2)
    assert skill["directional_accuracy"] == pytest.approx(4 / 6)


def test_grouped_rank_ic_equals_scipy_spearman_per_date_with_ties():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "date": np.repeat(np.arange(30), 8),
            "prediction": rng.integers(0, 4, 240).astype(float),
            "realized": rng.normal(size=240),
        }
    )
    frame.loc[frame["date"] == 7, "prediction"] = 1.0  # constant: no IC that day
    ic = metrics.daily_rank_ic(frame)
    expected = {
        d: spearmanr(g["prediction"], g["realized"]).statistic
        for d, g in frame.groupby("date")
        if g["prediction"].nunique() > 1
    }
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
    skilled[:, 0] += 0.003  # one variant really is better everywhere
    out = overfitting.pbo_cscv(skilled)
    assert out["pbo"] < 0.05 and out["splits"] == 12870  # C(16, 8)


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


# Published worked examples (Bailey & Lopez de Prado). The papers state per-period Sharpe ratios
# and use 250 observations a year for the DSR example.
def test_probabilistic_sharpe_published_example():
    # PSR paper (2012): SR 1.14 against SR* 1, T = 250, normal returns (skew 0, kurtosis 3) -> 0.9573.
    assert overfitting.psr_from_moments(1.14, 1.0, 250, 0.0, 3.0) == pytest.approx(0.9573, abs=5e-5)


def test_deflated_sharpe_published_example():
    # DSR paper (2014): annual SR 2.5 over T = 1250 days, N = 100 trials whose annualized Sharpe ratios
    # have variance 0.5, skew -3, kurtosis 10 -> DSR 0.9004 (SR* 1.7894 annualized).
    per_year = 250
    sr_star = overfitting.expected_max_sharpe(100, math.sqrt(0.5 / per_year))
    assert sr_star * math.sqrt(per_year) == pytest.approx(1.7894, abs=1e-4)
    dsr = overfitting.psr_from_moments(2.5 / math.sqrt(per_year), sr_star, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_deflated_sharpe_uses_the_callers_trial_dispersion():
    rng = np.random.default_rng(1)
    r = rng.normal(0.0006, 0.01, 2000)
    for std in (0.005, 0.02, 0.05):
        expected = overfitting.probabilistic_sharpe(r, overfitting.expected_max_sharpe(10, std))
        assert overfitting.deflated_sharpe(r, 10, std) == pytest.approx(expected, rel=1e-12)
    # Without it (or a NaN), one Sharpe estimate's sampling error 1/sqrt(n - 1) stands in.
    default = overfitting.probabilistic_sharpe(r, overfitting.expected_max_sharpe(10, 1 / math.sqrt(1999)))
    assert overfitting.deflated_sharpe(r, 10) == pytest.approx(default, rel=1e-12)
    assert overfitting.deflated_sharpe(r, 10, float("nan")) == pytest.approx(default, rel=1e-12)


def test_probabilistic_sharpe_uses_skew_and_kurtosis():
    # Same mean and variance, fat left tail: a lower PSR than the symmetric series (the penalty).
    sym = np.tile([0.02, -0.01], 250)
    skewed = np.tile([0.01, 0.01, 0.01, -0.025], 125)
    skewed = (skewed - skewed.mean()) / skewed.std(ddof=1) * sym.std(ddof=1) + sym.mean()
    assert overfitting.probabilistic_sharpe(skewed) < overfitting.probabilistic_sharpe(sym)
    m = skewed - skewed.mean()
    g3, g4 = (m**3).mean() / (m**2).mean() ** 1.5, (m**4).mean() / (m**2).mean() ** 2
    sr = skewed.mean() / skewed.std(ddof=1)
    assert overfitting.probabilistic_sharpe(skewed) == pytest.approx(
        overfitting.psr_from_moments(sr, 0.0, 500, g3, g4), rel=1e-12
    )
    assert math.isnan(overfitting.probabilistic_sharpe(np.array([0.01, 0.01, 0.01])))  # no dispersion
    assert math.isnan(overfitting.probabilistic_sharpe(np.array([0.01, 0.02])))  # too short


def _block(mean: float, half_spread: float, days: int) -> np.ndarray:
    """days alternating mean +- half_spread: that mean, standard deviation ~ half_spread."""
    return mean + half_spread * np.tile([1.0, -1.0], days // 2)


def test_pbo_known_answer_ranks_variants_by_sharpe_not_mean():
    # Two blocks (two CSCV splits), three variants. Block Sharpe (mean/sd):
    #   block 1: A 0.010/0.10 = 0.1, B 0.005/0.01 = 0.5, C 0.0/0.01 = 0
    #   block 2: A 0.1, B -0.5, C 0.0005/0.01 = 0.05
    # In-sample block 1 picks B, the worst out of sample: rank 1 of 3, omega 1/4, logit log(1/3).
    # In-sample block 2 picks A, the middle of block 1: rank 2, omega 2/4, logit 0 (counts as overfit).
    # PBO = 1, median logit log(1/3)/2. Ranking by mean would pick A twice (best both times): PBO 0.
    days = 40
    a = np.concatenate([_block(0.010, 0.10, days), _block(0.010, 0.10, days)])
    b = np.concatenate([_block(0.005, 0.01, days), _block(-0.005, 0.01, days)])
    c = np.concatenate([_block(0.0, 0.01, days), _block(0.0005, 0.01, days)])
    out = overfitting.pbo_cscv(np.column_stack([a, b, c]), blocks=2)
    assert out["splits"] == 2
    assert out["pbo"] == pytest.approx(1.0)
    assert out["logit_median"] == pytest.approx(math.log(1 / 3) / 2)


def test_pbo_is_zero_when_one_variant_is_best_in_every_block():
    days = 20
    best = np.concatenate([_block(0.004, 0.01, days) for _ in range(4)])
    others = [
        np.concatenate([_block(0.001 * k, 0.01 + 0.002 * j, days) for j in range(4)]) for k in (0, 1, 2)
    ]
    out = overfitting.pbo_cscv(np.column_stack([best, *others]), blocks=4)
    assert out["splits"] == 6 and out["pbo"] == 0.0
    # The winner is always ranked first of 4 out of sample: omega 4/5, logit log(4).
    assert out["logit_median"] == pytest.approx(math.log(4))


def test_pbo_refuses_what_cscv_cannot_split():
    m = np.random.default_rng(0).normal(size=(100, 3))
    for bad in (
        overfitting.pbo_cscv(m[:, :1]),
        overfitting.pbo_cscv(m, blocks=3),
        overfitting.pbo_cscv(m, blocks=0),
        overfitting.pbo_cscv(m[:31], blocks=16),
    ):
        assert math.isnan(bad["pbo"]) and math.isnan(bad["logit_median"]) and bad["splits"] == 0
    assert overfitting.pbo_cscv(m[:32], blocks=16)["splits"] == 12870


def test_expected_max_sharpe_of_a_single_trial_is_zero_and_scales_with_dispersion():
    assert overfitting.expected_max_sharpe(1, 0.3) == 0.0
    assert overfitting.expected_max_sharpe(50, 0.2) == pytest.approx(
        2 * overfitting.expected_max_sharpe(50, 0.1)
    )


def test_boundaries_of_the_return_metrics():
    # Two returns are enough for a Sharpe ratio, a volatility and an information ratio; one is not.
    two = np.array([0.01, 0.03])
    assert metrics.sharpe(two) == pytest.approx(0.02 / np.std(two, ddof=1) * math.sqrt(252))
    assert metrics.performance(two, np.zeros(2), None)["annual_volatility"] == pytest.approx(
        np.std(two, ddof=1) * math.sqrt(252)
    )
    assert metrics.information_ratio(two, np.array([0.0, 0.01])) == pytest.approx(
        0.015 / np.std([0.01, 0.02], ddof=1) * math.sqrt(252)
    )
    assert math.isnan(metrics.information_ratio(np.array([0.01]), np.array([0.0])))
    # No dispersion or no downside: undefined (NaN), never an infinite ratio.
    assert math.isnan(metrics.sharpe(np.full(5, 0.01)))
    assert math.isnan(metrics.sortino(np.array([0.01, 0.02, 0.0])))
    assert math.isnan(metrics.cagr(np.array([])))


def test_rolling_columns_index_and_undefined_windows():
    days = pd.bdate_range("2010-01-04", periods=30)
    net = pd.Series(np.r_[np.full(10, 0.001), np.random.default_rng(1).normal(0, 0.01, 20)], index=days)
    out = metrics.rolling(net, 5)
    assert out.index.equals(days)
    window = net.iloc[10:15]
    assert out["rolling_volatility"].iloc[14] == pytest.approx(window.std(ddof=1) * math.sqrt(252))
    assert out["rolling_return"].iloc[4] == pytest.approx(1.001**252 - 1)
    assert np.isnan(out["rolling_sharpe"].iloc[9])  # a constant window: no Sharpe
    assert out["rolling_volatility"].iloc[9] == pytest.approx(0.0, abs=1e-12)


def test_window_drawdowns_report_each_windows_first_and_last_day():
    days = pd.bdate_range("2008-01-01", periods=8)
    net = pd.Series([0.0, 0.1, -0.2, 0.05, 0.0, 0.1, -0.1, 0.0], index=days)
    out = metrics.window_drawdowns(net, (("a", "2008-01-02", "2008-01-07"),))
    assert list(out.columns) == ["period", "first", "last", "max_drawdown", "total_return"]
    assert out["first"].iat[0] == days[1] and out["last"].iat[0] == days[4]
    assert out["max_drawdown"].iat[0] == pytest.approx(-0.2)


def test_by_regime_is_sorted_by_state_with_volatility_and_one_day_shares():
    days = pd.bdate_range("2010-01-01", periods=5)
    net = pd.Series([0.01, -0.02, 0.03, 0.0, 0.02], index=days)
    state = pd.Series(["turbulent", "calm", "turbulent", "calm", "turbulent"], index=days)
    out = metrics.by_regime(net, state)
    assert list(out["state"]) == ["calm", "turbulent"]
    turbulent = out.set_index("state").loc["turbulent"]
    assert turbulent["annual_volatility"] == pytest.approx(
        np.std([0.01, 0.03, 0.02], ddof=1) * math.sqrt(252)
    )
    assert turbulent["sharpe"] == pytest.approx(metrics.sharpe(np.array([0.01, 0.03, 0.02])))
    one = metrics.by_regime(net.iloc[:1], state.iloc[:1])
    assert one["share_of_days"].iat[0] == 1.0 and np.isnan(one["annual_volatility"].iat[0])


def test_probabilistic_sharpe_boundaries():
    # Three returns are enough; a series with standard deviation exactly 1 is not special.
    assert overfitting.probabilistic_sharpe(np.array([-1.0, 0.0, 1.0])) == pytest.approx(0.5)
    assert 0.5 < overfitting.probabilistic_sharpe(np.array([0.01, 0.02, 0.04])) < 1.0


def test_pbo_with_two_variants_known_answer():
    # Each variant wins the block where the other loses: the in-sample winner is always last out of sample.
    days = 40
    a = np.concatenate([_block(0.01, 0.01, days), _block(-0.01, 0.01, days)])
    b = np.concatenate([_block(-0.01, 0.01, days), _block(0.01, 0.01, days)])
    out = overfitting.pbo_cscv(np.column_stack([a, b]), blocks=2)
    assert out["splits"] == 2 and out["pbo"] == 1.0
    assert out["logit_median"] == pytest.approx(math.log(0.5))  # omega 1/3 -> logit log(1/2)


def test_by_regime_two_day_state_and_no_state_at_all():
    days = pd.bdate_range("2010-01-01", periods=4)
    net = pd.Series([0.01, 0.03, -0.01, 0.02], index=days)
    out = metrics.by_regime(net, pd.Series(["a", "a", "b", "b"], index=days)).set_index("state")
    assert out.loc["a", "annual_volatility"] == pytest.approx(np.std([0.01, 0.03], ddof=1) * math.sqrt(252))
    empty = metrics.by_regime(net, pd.Series([None] * 4, index=days, dtype=object))
    assert empty.empty and list(empty.columns) == [
        "state",
        "days",
        "share_of_days",
        "annual_return",
        "annual_volatility",
        "sharpe",
        "hit_rate",
    ]


def test_forecast_skill_ignores_rows_without_a_realized_return():
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(
        {"date": np.repeat([1, 2, 3], 5), "prediction": rng.normal(size=15), "realized": rng.normal(size=15)}
    )
    with_gaps = pd.concat(
        [frame, pd.DataFrame({"date": [1, 2], "prediction": [0.5, -0.5], "realized": [np.nan, np.inf]})],
        ignore_index=True,
    )
    assert metrics.forecast_skill(with_gaps) == pytest.approx(metrics.forecast_skill(frame))
    short = metrics.forecast_skill(frame.iloc[:2])
    assert math.isnan(short["base_rate"]) and math.isnan(short["directional_accuracy"])
