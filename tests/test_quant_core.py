"""Unit tests of the domain: features, targets, walk-forward purge, allocation (backtest and metrics:
test_backtest.py, test_metrics.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import features, targets, walk_forward
from portfolio_dagster.quant.allocation_policy import cap_weights
from portfolio_dagster.quant.validation import consolidate, validate


def synthetic_prices(n_days: int = 300, tickers=("AAA", "BBB", "CCC"), seed: int = 0) -> pd.DataFrame:
    """Synthetic geometric random walks (test data, not market data)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2001-01-01", periods=n_days)
    rows = []
    for t in tickers:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n_days)))
        rows.append(pd.DataFrame({"ticker": t, "date": dates, "close": close}))
    return pd.concat(rows, ignore_index=True)


def test_features_match_plain_definitions():
    px = synthetic_prices()
    out = features.compute(px, dtype=np.float64).set_index(["ticker", "date"])
    aaa = px[px.ticker == "AAA"].set_index("date")["close"]
    d = aaa.index[100]
    assert out.loc[("AAA", d), "ret_5d"] == pytest.approx(aaa.iloc[100] / aaa.iloc[95] - 1, abs=1e-12)
    daily = aaa.pct_change()
    assert out.loc[("AAA", d), "vol_20d"] == pytest.approx(daily.iloc[81:101].std() * np.sqrt(252), abs=1e-12)
    window = aaa.iloc[81:101]
    expected = (aaa.iloc[100] - window.mean()) / (2 * window.std())
    assert out.loc[("AAA", d), "bollinger_position"] == pytest.approx(expected, abs=1e-12)


def test_features_are_point_in_time():
    px = synthetic_prices()
    cut = px["date"].sort_values().unique()[200]
    shocked = px.copy()
    shocked.loc[shocked["date"] > cut, "close"] *= 1.5
    a = features.compute(px)
    b = features.compute(shocked)
    a, b = a[a.date <= cut], b[b.date <= cut]
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_targets_are_forward_returns_and_null_past_the_data():
    px = synthetic_prices(n_days=50)
    out = targets.compute(px, (1, 5)).set_index(["ticker", "date"])
    aaa = px[px.ticker == "AAA"].set_index("date")["close"]
    assert out.loc[("AAA", aaa.index[10]), "return_5d"] == pytest.approx(aaa.iloc[15] / aaa.iloc[10] - 1)
    assert out.loc[("AAA", aaa.index[-1]), "return_1d"] != out.loc[("AAA", aaa.index[-1]), "return_1d"]
    assert out.xs("AAA")["return_5d"].isna().sum() == 5


def test_purge_keeps_every_training_target_realized_before_the_asof_date():
    calendar = pd.bdate_range("2000-01-03", periods=400)
    for horizon in (1, 5, 21, 63):
        for embargo in (0, 5):
            asof = calendar[300]
            win = walk_forward.training_window(calendar, asof, horizon, embargo)
            last_pos = calendar.get_loc(win.end)
            assert last_pos + horizon + embargo < 300
            assert last_pos + horizon + embargo + 1 == 300  # and nothing more is purged than needed


def test_retrain_dates_are_first_trading_day_of_each_period():
    calendar = pd.bdate_range("2000-01-03", "2002-12-31")
    yearly = walk_forward.retrain_dates(calendar, dt.date(2000, 6, 1), "yearly")
    assert list(yearly.strftime("%Y-%m-%d")) == ["2000-06-01", "2001-01-01", "2002-01-01"]
    assert len(walk_forward.retrain_dates(calendar, dt.date(2000, 1, 3), "monthly")) == 36


def test_model_for_date_uses_latest_model_valid_then():
    valid_from = pd.Series(pd.to_datetime(["2001-01-02", "2002-01-02"]))
    asof = pd.Series(pd.to_datetime(["2000-12-29", "2001-01-02", "2001-12-31", "2002-01-02"]))
    assert list(walk_forward.model_for_date(valid_from, asof)) == [-1, 0, 0, 1]


def test_cap_weights_respects_cap_and_total():
    w = cap_weights(np.array([10.0, 1.0, 1.0, 0.0, 5.0]), total=0.8, cap=0.3)
    assert w.max() <= 0.3 + 1e-12
    assert w.sum() == pytest.approx(0.8)
    assert w[3] == 0
    assert cap_weights(np.array([1.0, 1.0]), total=0.8, cap=0.1).sum() == pytest.approx(0.2)


def test_validation_rejects_bad_rows_with_reasons_and_loses_none():
    raw = pd.DataFrame(
        {
            "ticker": ["A", "A", "A", "A", "A", "B", "B"],
            "date": pd.to_datetime(
                [
                    "2001-01-02",
                    "2001-01-03",
                    "2001-01-04",
                    "2001-01-06",
                    "2001-01-05",
                    "2001-01-02",
                    "2001-01-02",
                ]
            ),
            "close": [10.0, np.nan, -1.0, 10.0, np.inf, 5.0, 6.0],
        }
    )
    clean, rejected = validate(raw, "csv")
    assert len(clean) + len(rejected) == len(raw)
    assert set(rejected["reason"]) == {
        "missing close",
        "non-positive close",
        "weekend date",
        "non-finite close",
        "duplicate key with different values",
    }
    assert list(clean["ticker"]) == ["A"]


def test_consolidate_prefers_earlier_source():
    a = pd.DataFrame({"ticker": ["X"], "date": [pd.Timestamp("2001-01-02")], "close": [1.0], "source": ["a"]})
    b = pd.DataFrame(
        {
            "ticker": ["X", "X"],
            "date": pd.to_datetime(["2001-01-02", "2001-01-03"]),
            "close": [2.0, 3.0],
            "source": ["b", "b"],
        }
    )
    out = consolidate([a, b])
    assert list(out["source"]) == ["a", "b"]
