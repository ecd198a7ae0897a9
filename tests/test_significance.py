"""Significance statistics on textbook cases: Ledoit-Wolf Sharpe difference test (HAC and studentized
block bootstrap) and the Newey-West t-statistic of the per-date rank IC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from portfolio_dagster.quant.metrics import cross_sectional_ic
from portfolio_dagster.quant.significance import (
    newey_west_lags,
    newey_west_tstat,
    rank_ic_stats,
    sharpe_diff_pvalue,
    sharpe_difference_test,
)


def _returns(n: int, seed: int, mean: float = 0.0004, vol: float = 0.01) -> np.ndarray:
    """Fat-tailed (Student t, 4 df) daily returns with AR(1) serial correlation 0.2."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(4, size=n) / np.sqrt(2.0) * vol
    r = np.empty(n)
    r[0] = shocks[0]
    for t in range(1, n):
        r[t] = 0.2 * r[t - 1] + shocks[t]
    return r + mean


@pytest.mark.parametrize("method", ["hac", "bootstrap"])
def test_identical_series_give_p_one(method):
    a = _returns(1500, 0)
    result = sharpe_difference_test(a, a.copy(), method, reps=200)
    assert result.difference == 0.0 and result.pvalue == 1.0


@pytest.mark.parametrize("method", ["hac", "bootstrap"])
def test_a_known_shift_is_significant(method):
    a = _returns(2000, 1)
    # The same returns less 5 bps a day (a cost drag): Sharpe lower by ~0.05 a day, ~0.8 a year.
    result = sharpe_difference_test(a, a - 0.0005, method, reps=200)
    assert result.difference == pytest.approx(0.0005 / np.std(a), rel=1e-6)
    assert result.pvalue < 0.01
    # The test is two-sided: swapping the series flips the sign, not the p-value.
    assert sharpe_difference_test(a - 0.0005, a, "hac").pvalue == pytest.approx(
        sharpe_difference_test(a, a - 0.0005, "hac").pvalue
    )


def test_a_small_difference_in_noisy_series_is_not_significant():
    a, b = _returns(1000, 2), _returns(1000, 3)
    assert sharpe_diff_pvalue(a, b) > 0.05


def test_random_walk_strategies_are_not_significantly_different():
    """On a pure (driftless) random walk, timing the market with yesterday's sign and buying and holding
    both have a true Sharpe ratio of 0: the test rejects at about its nominal 5% rate (HAC), over 300
    walks."""
    rejections = []
    for seed in range(300):
        steps = np.random.default_rng(100 + seed).normal(0.0, 0.01, size=1001)
        hold, timed = steps[1:], np.sign(steps[:-1]) * steps[1:]
        rejections.append(sharpe_diff_pvalue(timed, hold) < 0.05)
    assert 0.01 <= np.mean(rejections) <= 0.09
    steps = np.random.default_rng(5).normal(0.0, 0.01, size=1501)
    assert sharpe_diff_pvalue(np.sign(steps[:-1]) * steps[1:], steps[1:], "bootstrap", reps=300) > 0.05


def test_size_holds_under_serial_correlation_and_fat_tails():
    """Two series with the same Sharpe ratio, AR(1) and Student-t: rejections near 5%, not the naive rate."""
    rejections = [
        sharpe_diff_pvalue(_returns(1000, 1000 + s), _returns(1000, 2000 + s)) < 0.05 for s in range(200)
    ]
    assert np.mean(rejections) <= 0.10


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="differ in length"):
        sharpe_diff_pvalue(np.ones(20), np.ones(21))
    with pytest.raises(ValueError, match="at least 10"):
        sharpe_diff_pvalue(np.full(20, np.nan), np.ones(20))
    with pytest.raises(ValueError, match="constant"):
        sharpe_diff_pvalue(np.full(50, 0.001), _returns(50, 0))
    with pytest.raises(ValueError, match="unknown Sharpe test method"):
        sharpe_diff_pvalue(_returns(50, 0), _returns(50, 1), "naive")


def _panel(days: int, names: int, signal: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-01", periods=days)
    pred = rng.normal(size=(days, names))
    actual = signal * pred + rng.normal(size=(days, names))
    return pd.DataFrame(
        {"date": np.repeat(dates, names), "prediction": pred.ravel(), "actual": actual.ravel()}
    )


def test_cross_sectional_ic_is_the_per_date_spearman_correlation():
    frame = _panel(30, 12, 0.5, 0)
    frame.loc[3, "actual"] = np.nan  # left out, the rest of its date still counts
    ic = cross_sectional_ic(frame)
    assert len(ic) == 30 and ic.index.is_monotonic_increasing
    for date in ic.index[:5]:
        day = frame[frame["date"] == date].dropna()
        assert ic[date] == pytest.approx(spearmanr(day["prediction"], day["actual"]).statistic)
    # A date with fewer than 3 names has no cross-section.
    small = frame.groupby("date").head(2)
    assert cross_sectional_ic(small).empty


def test_cross_sectional_ic_averages_tied_ranks_and_takes_dates_in_any_order():
    frame = _panel(40, 15, 0.4, 3).sample(frac=1.0, random_state=0)  # rows not sorted by date
    frame["prediction"] = frame["prediction"].round(0)  # many ties within each date
    frame.loc[frame.index[:7], "prediction"] = np.nan
    frame = pd.concat([frame, frame.iloc[:5].assign(date=pd.NaT, prediction=1.0)])  # left out, as NaNs
    ic, pearson = cross_sectional_ic(frame), cross_sectional_ic(frame, rank=False)
    assert len(ic) == 40 and ic.index.is_monotonic_increasing
    for date in ic.index[::7]:
        day = frame[frame["date"] == date].dropna()
        assert ic[date] == pytest.approx(spearmanr(day["prediction"], day["actual"]).statistic, abs=1e-12)
        assert pearson[date] == pytest.approx(np.corrcoef(day["prediction"], day["actual"])[0, 1], abs=1e-12)
    assert cross_sectional_ic(frame.iloc[0:0]).empty


def test_rank_ic_tstat_finds_a_planted_signal_and_not_noise():
    stats = rank_ic_stats(_panel(500, 20, 0.3, 1), horizon=1)
    assert 0.2 < stats["rank_ic"] < 0.35 and stats["ic_tstat"] > 10 and stats["ic_dates"] == 500
    noise = [
        abs(rank_ic_stats(_panel(300, 20, 0.0, 10 + s), horizon=1)["ic_tstat"]) > 1.96 for s in range(100)
    ]
    assert np.mean(noise) <= 0.12


def test_newey_west_t_accounts_for_overlapping_horizons():
    """An IC series of 21-day overlapping outcomes (an MA(20) of white noise, mean 0): the naive t rejects
    far too often; the Newey-West t with lags >= 2 x 20 stays near its nominal rate."""
    assert newey_west_lags(1000, 21) == 40 and newey_west_lags(1000, 1) == int(4 * 10 ** (2 / 9))
    naive, robust = [], []
    for s in range(200):
        x = np.convolve(np.random.default_rng(s).normal(size=1020), np.ones(21), mode="valid")
        naive.append(abs(x.mean() / (x.std(ddof=1) / np.sqrt(len(x)))) > 1.96)
        robust.append(abs(newey_west_tstat(x, horizon=21)) > 1.96)
    assert np.mean(naive) > 0.4
    assert np.mean(robust) <= 0.11
    # iid: close to the ordinary t.
    x = np.random.default_rng(1).normal(0.1, 1.0, size=2000)
    assert newey_west_tstat(x) == pytest.approx(x.mean() / (x.std() / np.sqrt(len(x))), rel=0.1)
    assert np.isnan(newey_west_tstat([0.1, np.nan]))
