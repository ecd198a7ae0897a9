"""Targets per horizon: forward return, risk-adjusted return, significant-move and direction labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import targets
from tests.test_features import synthetic_ohlcv

HORIZONS = (1, 5, 21, 63)


def test_every_target_per_plain_definitions():
    prices = synthetic_ohlcv(n_days=300, ohlc=False)
    out = targets.compute(prices, HORIZONS).set_index(["ticker", "date"])
    c = prices[prices["ticker"] == "BBB"].set_index("date")["close"]
    vol = c.pct_change().rolling(targets.VOL_WINDOW).std()
    for h in HORIZONS:
        for i in (100, 200):
            row = out.loc[("BBB", c.index[i])]
            fwd = c.iloc[i + h] / c.iloc[i] - 1
            scale = vol.iloc[i] * np.sqrt(h)
            assert row[f"return_{h}d"] == pytest.approx(fwd, abs=1e-12)
            assert row[f"risk_adj_return_{h}d"] == pytest.approx(fwd / scale, rel=1e-9)
            assert bool(row[f"significant_move_{h}d"]) == (abs(fwd) > scale)
            assert bool(row[f"direction_{h}d"]) == (fwd > 0)


def test_null_past_the_data_and_before_the_volatility_exists():
    prices = synthetic_ohlcv(n_days=300, ohlc=False)
    out = targets.compute(prices, HORIZONS)
    aaa = out[out["ticker"] == "AAA"].reset_index(drop=True)
    for h in HORIZONS:
        for kind in targets.TARGET_KINDS:
            col = targets.target_name(h, kind)
            assert aaa[col].iloc[-h:].isna().all() and aaa[col].iloc[-h - 1 : -h].notna().all(), col
        # The scale needs VOL_WINDOW daily returns: NULL on the first VOL_WINDOW rows only.
        scaled = aaa[targets.target_name(h, "risk_adj_return")]
        assert scaled.iloc[: targets.VOL_WINDOW].isna().all() and pd.notna(scaled.iloc[targets.VOL_WINDOW])
    assert str(out["direction_5d"].dtype) == "boolean" and str(out["significant_move_5d"].dtype) == "boolean"
    # The column order is the targets table's DDL order (one schema, written in sql/tables/).
    assert list(out.columns) == ["ticker", "date", *targets.target_columns(HORIZONS)]


def test_significant_moves_are_a_minority_and_direction_follows_the_sign():
    prices = synthetic_ohlcv(n_days=600, ohlc=False)
    out = targets.compute(prices, HORIZONS).dropna()
    for h in HORIZONS:
        share = out[f"significant_move_{h}d"].astype(bool).mean()
        assert 0.15 < share < 0.5  # a 1-sigma move: about a third of the time for a random walk
        assert (out[f"direction_{h}d"].astype(bool) == (out[f"return_{h}d"] > 0)).all()


def test_targets_of_a_date_use_prices_from_that_date_forward_only_for_the_return():
    prices = synthetic_ohlcv(n_days=300, ohlc=False)
    cut = np.sort(prices["date"].unique())[150]
    shocked = prices.copy()
    shocked.loc[shocked["date"] < cut - pd.Timedelta(days=200), "close"] *= 2  # far past: outside vol window
    a = targets.compute(prices, HORIZONS)
    b = targets.compute(shocked, HORIZONS)
    after = a["date"] >= cut
    pd.testing.assert_frame_equal(a[after].reset_index(drop=True), b[after].reset_index(drop=True))


def test_cross_sectional_targets_are_excess_over_the_universe_mean_and_percentile_ranks():
    prices = synthetic_ohlcv(n_days=300, ohlc=False)
    out = targets.compute(prices, HORIZONS)
    for h in (1, 21):
        day = out[out["date"] == out["date"].unique()[120]].set_index("ticker")
        fwd = day[f"return_{h}d"]
        assert np.allclose(day[f"excess_return_{h}d"], fwd - fwd.mean(), atol=1e-15)
        assert np.allclose(day[f"rank_{h}d"], fwd.rank(pct=True))
        # Per date the excess returns sum to 0 and the best name ranks 1.
        done = out.dropna(subset=[f"return_{h}d"])
        assert done.groupby("date")[f"excess_return_{h}d"].sum().abs().max() < 1e-12
        assert (done.groupby("date")[f"rank_{h}d"].max() == 1.0).all()
