"""Walk-forward: purge and embargo, point in time (prices perturbed after T leave forecasts and
regimes dated <= T unchanged), determinism of the whole walk-forward, the point-in-time HMM regimes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from model_data import SMALL_PARAMS

from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant import regimes, targets, walk_forward
from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.models.training import TrainingSpec, walk_forward_forecasts
from portfolio_dagster.quant.panel import wide

CAL = pd.bdate_range("2000-01-03", periods=600)


@pytest.mark.parametrize("horizon,embargo,validation", [(1, 0, 50), (5, 5, 100), (21, 5, 60), (63, 2, 120)])
def test_purge_no_training_target_reaches_the_asof_or_validation_window(horizon, embargo, validation):
    pos = {d: i for i, d in enumerate(CAL)}
    for asof in CAL[200::37]:
        s = walk_forward.split(CAL, asof, horizon, embargo, validation)
        rows = pd.DataFrame({"date": CAL})
        fit, val = walk_forward.fit_and_validation(rows, s)
        # Every row whose target is used was realized before the as-of date, with the embargo.
        for d in pd.concat([fit, val])["date"]:
            assert pos[d] + horizon + embargo < pos[asof]
        # Fit rows' targets end before the validation window starts, with the embargo.
        for d in fit["date"]:
            assert pos[d] + horizon + embargo < pos[s.validation_start]
        assert len(val) == min(validation, pos[asof] - horizon - embargo)
        # The purge is tight: the next day would violate it.
        assert pos[s.window.end] + horizon + embargo + 1 == pos[asof]


def test_rolling_window_keeps_the_last_days():
    w = walk_forward.training_window(CAL, CAL[400], 5, 5, rolling_days=100)
    assert CAL.get_loc(w.end) - CAL.get_loc(w.start) + 1 == 100
    # The split keeps the rolling window too (it must not silently become expanding).
    s = walk_forward.split(CAL, CAL[400], 5, 5, 30, rolling_days=100)
    assert s.window.start == w.start and s.window.end == w.end
    fit, val = walk_forward.fit_and_validation(pd.DataFrame({"date": CAL}), s)
    assert fit["date"].min() == w.start and len(fit) + 5 + 5 + len(val) == 100
    # Expanding: from the first day; a window longer than the history is the whole history.
    assert walk_forward.training_window(CAL, CAL[400], 5, 5).start == CAL[0]
    assert walk_forward.training_window(CAL, CAL[50], 5, 5, rolling_days=1000).start == CAL[0]


def test_no_eligible_row_gives_an_empty_window_and_empty_sets():
    w = walk_forward.training_window(CAL, CAL[11], 5, 5)
    assert not w.empty and w.start == w.end == CAL[0]  # the first row only: 0 + 5 + 5 < 11
    empty = walk_forward.training_window(CAL, CAL[11], 5, 6)
    assert empty.empty and empty.start is None
    s = walk_forward.split(CAL, CAL[11], 5, 6, 20)
    fit, val = walk_forward.fit_and_validation(pd.DataFrame({"date": CAL}), s)
    assert fit.empty and val.empty and s.validation_start is None
    # A validation window that leaves no room for purged fit rows: validation only.
    s = walk_forward.split(CAL, CAL[40], 5, 5, 25)
    assert s.fit_end is None and s.validation_start == CAL[29 - 25 + 1] and s.asof == CAL[40]
    # No validation window requested: every eligible row is a fit row.
    s = walk_forward.split(CAL, CAL[40], 5, 5, 0)
    assert s.fit_end == s.window.end and s.validation_start is None
    fit, val = walk_forward.fit_and_validation(pd.DataFrame({"date": CAL}), s)
    assert len(fit) == 30 and val.empty
    # A one-day validation window is a window.
    s = walk_forward.split(CAL, CAL[40], 5, 5, 1)
    assert s.validation_start == CAL[29] and s.fit_end == CAL[29 - 11]
    # Exactly one fit row left before the purge: it is kept.
    s = walk_forward.split(CAL, CAL[40], 5, 5, 19)
    assert s.validation_start == CAL[11] and s.fit_end == CAL[0]
    # The empty window still knows its as-of date; selecting from it gives no row.
    assert empty.asof == CAL[11]
    assert walk_forward.select(pd.DataFrame({"date": CAL}), empty).empty


SESSIONS = sessions(dt.date(2000, 1, 3), dt.date(2004, 1, 1))  # the real XNYS calendar, holidays and all


def _target_end_positions(horizon: int) -> pd.DataFrame:
    """Rows with the calendar position of the close each row's return_{h}d target actually used.
    Closes are 1000 + position, so the target (c[j] / c[i] - 1) reveals j."""
    prices = pd.DataFrame({"ticker": "X", "date": SESSIONS, "close": 1000.0 + np.arange(len(SESSIONS))})
    tg = targets.compute(prices, (horizon,)).dropna(subset=[f"return_{horizon}d"])
    pos = np.arange(len(SESSIONS))[SESSIONS.get_indexer(tg["date"])]
    end = np.rint((1 + tg[f"return_{horizon}d"].to_numpy()) * (1000.0 + pos) - 1000.0).astype(int)
    return pd.DataFrame({"date": tg["date"].to_numpy(), "target_end": end})


def _purged(s, rows: pd.DataFrame, embargo: int) -> bool:
    """Measured on the targets' real end dates: every used row's target ends `embargo` sessions or more
    before the as-of date, and every fit row's before the validation window."""
    fit, val = walk_forward.fit_and_validation(rows, s)
    asof, vstart = SESSIONS.get_loc(s.asof), SESSIONS.get_loc(s.validation_start)
    used = pd.concat([fit, val])
    return bool((used["target_end"] + embargo < asof).all() and (fit["target_end"] + embargo < vstart).all())


@pytest.mark.parametrize("horizon,embargo", [(63, 5), (21, 5), (5, 0), (1, 3)])
def test_purge_measured_on_real_target_end_dates_and_tight(horizon, embargo):
    rows = _target_end_positions(horizon)
    assert (rows["target_end"] - np.arange(len(rows)) == horizon).all()  # the encoding works
    for asof in SESSIONS[400::97]:
        s = walk_forward.split(SESSIONS, asof, horizon, embargo, 120)
        assert _purged(s, rows, embargo)
        fit, val = walk_forward.fit_and_validation(rows, s)
        # Tight: the newest used row's target ends exactly embargo + 1 sessions before the as-of date,
        # the newest fit row's exactly embargo + 1 before the validation window.
        assert val["target_end"].max() + embargo + 1 == SESSIONS.get_loc(asof)
        assert fit["target_end"].max() + embargo + 1 == SESSIONS.get_loc(s.validation_start)
        # A walk-forward that shortened the horizon or the embargo by one day would leak: the check fails.
        assert not _purged(walk_forward.split(SESSIONS, asof, horizon - 1, embargo, 120), rows, embargo)
        if embargo:
            assert not _purged(walk_forward.split(SESSIONS, asof, horizon, embargo - 1, 120), rows, embargo)


@pytest.mark.parametrize("frequency,count", [("yearly", 3), ("quarterly", 10), ("monthly", 28)])
def test_retrain_dates_follow_the_configured_frequency(frequency, count):
    dates = walk_forward.retrain_dates(CAL, CAL[0].date(), frequency)
    assert len(dates) == count and dates[0] == CAL[0]


def _synthetic_prices(seed: int = 5, days: int = 900) -> pd.DataFrame:
    """Labelled synthetic closes: 6 random walks with drift and a volatility burst."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2003-01-01", periods=days)
    vol = np.where((np.arange(days) > 500) & (np.arange(days) < 600), 0.04, 0.01)
    out = []
    for i in range(6):
        close = 100 * np.exp(np.cumsum(0.0003 + vol * rng.normal(size=days)))
        out.append(pd.DataFrame({"ticker": f"SYN{i}", "date": dates, "close": close}))
    return pd.concat(out, ignore_index=True)


def _pipeline(
    prices: pd.DataFrame, families=("lightgbm", "xgboost", "bayesian_ridge", "regime_adaptive", "tcn")
):
    """prices -> features, targets, point-in-time regime columns -> walk-forward forecasts (h=5)."""
    rows = feature_set.compute(prices).merge(targets.compute(prices, (5,)), on=["ticker", "date"])
    mf = regimes.market_features(wide(prices, "close"))
    refits = walk_forward.retrain_dates(mf.index, mf.index[300].date(), "quarterly")
    probs = regimes.walk_forward_probabilities(mf, refits, seed=7, min_train_days=300)
    rows = regimes.with_regime_columns(rows, probs)
    spec = TrainingSpec(
        families=families,
        params=SMALL_PARAMS,
        feature_names=feature_set.DEFAULT_MODEL_FEATURES,
        horizon=5,
        embargo_days=3,
        validation_days=60,
        min_train_days=150,
    )
    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    schedule = walk_forward.retrain_dates(calendar, calendar[400].date(), "quarterly")
    return walk_forward_forecasts(rows, schedule, spec, "return_5d"), probs


@pytest.fixture(scope="module")
def base_run():
    return _pipeline(_synthetic_prices())


def test_prices_changed_after_t_leave_forecasts_and_regimes_up_to_t_unchanged(base_run):
    fc, probs = base_run
    prices = _synthetic_prices()
    cutoff = pd.Timestamp(sorted(prices["date"].unique())[650])
    later = prices["date"] > cutoff
    rng = np.random.default_rng(99)
    prices.loc[later, "close"] *= np.exp(rng.normal(0, 0.05, later.sum()))
    fc2, probs2 = _pipeline(prices)
    keys = ["ticker", "date", "horizon", "model"]
    a = fc[fc["date"] <= cutoff].sort_values(keys).reset_index(drop=True)
    b = fc2[fc2["date"] <= cutoff].sort_values(keys).reset_index(drop=True)
    assert len(a) > 1000 and set(a["model"]) == {
        "lightgbm",
        "xgboost",
        "bayesian_ridge",
        "regime_adaptive",
        "tcn",
        "ensemble",
    }
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(probs[probs.index <= cutoff], probs2[probs2.index <= cutoff])
    # And the perturbation did reach later forecasts (the test can fail).
    later_a, later_b = (
        fc[fc["date"] > cutoff + pd.Timedelta(days=30)],
        fc2[fc2["date"] > cutoff + pd.Timedelta(days=30)],
    )
    assert not np.allclose(later_a.sort_values(keys)["prediction"], later_b.sort_values(keys)["prediction"])


def test_walk_forward_is_deterministic(base_run):
    fc, _ = base_run
    again, _ = _pipeline(_synthetic_prices())
    pd.testing.assert_frame_equal(fc, again)


def test_each_forecast_uses_the_set_trained_at_the_latest_retrain_date(base_run):
    fc, _ = base_run
    assert (fc["valid_from"] <= fc["date"]).all()
    latest = fc.groupby("date")["valid_from"].nunique()
    assert (latest == 1).all()


def test_regimes_are_filtered_point_in_time_and_ordered_by_volatility():
    prices = _synthetic_prices()
    mf = regimes.market_features(wide(prices, "close"))
    refits = walk_forward.retrain_dates(mf.index, mf.index[300].date(), "quarterly")
    probs = regimes.walk_forward_probabilities(mf, refits, seed=7, min_train_days=300)
    assert probs.index.min() == refits[0] and np.allclose(probs.sum(axis=1), 1.0)
    # Truncating the data at any date gives the same probabilities up to it (no smoothing, no look-ahead).
    for cut in (mf.index[420], mf.index[560], mf.index[700]):
        short = regimes.walk_forward_probabilities(
            mf[mf.index <= cut], refits[refits <= cut], seed=7, min_train_days=300
        )
        pd.testing.assert_frame_equal(short, probs[probs.index <= cut])
    table = regimes.regime_table(probs)
    assert set(table["state"]) <= set(regimes.REGIME_STATES)
    burst = table[(table["date"] > mf.index[520]) & (table["date"] < mf.index[590])]
    calm = table[table["date"] > mf.index[700]]
    assert burst["state"].isin(["volatile", "crisis"]).mean() > 0.8
    assert calm["state"].isin(["calm", "normal"]).mean() > 0.8


def test_hmm_parameters_round_trip_as_json():
    prices = _synthetic_prices()
    mf = regimes.market_features(wide(prices, "close")).to_numpy()
    hmm = regimes.RegimeHMM.fit(mf[:500], seed=7)
    again = regimes.RegimeHMM.from_json(hmm.to_json())
    assert np.array_equal(hmm.filtered(mf), again.filtered(mf))
    # States are sorted by their mean volatility.
    assert np.all(np.diff(hmm.means[:, regimes.MARKET_FEATURES.index("market_log_vol")]) > 0)


def test_calibrated_split_edges_one_fit_row_one_day_validation_and_too_short():
    rows = pd.DataFrame({"date": CAL})
    # gap = h + embargo + 1 = 11 sessions between parts; calibration 10 days, validation 5.
    s = walk_forward.calibrated_split(CAL, CAL[46], 5, 5, 5, 10)
    assert (s.fit_end, s.validation_start, s.validation_end, s.calibration_start, s.window.end) == (
        CAL[0],
        CAL[11],
        CAL[15],
        CAL[26],
        CAL[35],
    )
    fit, val, cal = walk_forward.fit_validation_calibration(rows, s)
    assert (len(fit), len(val), len(cal)) == (1, 5, 10)
    # The validation window reaches back to the first row: it is kept (one day), nothing before it.
    s = walk_forward.calibrated_split(CAL, CAL[31], 5, 5, 5, 10)
    assert (s.fit_end, s.validation_start, s.validation_end, s.calibration_start) == (
        None,
        CAL[0],
        CAL[0],
        CAL[11],
    )
    # Too short for a validation window: calibration only, the window itself kept.
    s = walk_forward.calibrated_split(CAL, CAL[30], 5, 5, 5, 10)
    assert (s.fit_end, s.validation_start, s.validation_end, s.calibration_start) == (
        None,
        None,
        None,
        CAL[10],
    )
    assert s.window == walk_forward.training_window(CAL, CAL[30], 5, 5) and s.asof == CAL[30]
    fit, val, cal = walk_forward.fit_validation_calibration(rows, s)
    assert fit.empty and val.empty and list(cal["date"]) == list(CAL[10:20])
    # No eligible row at all.
    s = walk_forward.calibrated_split(CAL, CAL[11], 5, 6, 5, 10)
    assert s.window.empty and s.asof == CAL[11]
    assert (s.fit_end, s.validation_start, s.validation_end, s.calibration_start) == (None, None, None, None)
    assert all(part.empty for part in walk_forward.fit_validation_calibration(rows, s))
    # A rolling window is kept.
    s = walk_forward.calibrated_split(CAL, CAL[400], 5, 5, 20, 20, rolling_days=100)
    assert s.window == walk_forward.training_window(CAL, CAL[400], 5, 5, rolling_days=100)
