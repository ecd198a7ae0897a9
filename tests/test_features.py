"""The feature engine: the seed features against a plain pandas reference, point in time, incremental
equality, sources with and without high/low/volume, the market, cross-sections and selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import features
from tests.feature_reference import seed_features


def synthetic_ohlcv(
    n_days: int = 400, tickers=("AAA", "BBB", "CCC", "DDD"), seed: int = 1, ohlc: bool = True
) -> pd.DataFrame:
    """Synthetic geometric random walks with a high/low band and volume (test data, not market data)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2003-01-01", periods=n_days)
    rows = []
    for t in tickers:
        close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n_days)))
        frame = pd.DataFrame({"ticker": t, "date": dates, "close": close})
        if ohlc:
            frame["open"] = close * np.exp(rng.normal(0, 0.004, n_days))
            frame["high"] = np.maximum(close, frame["open"]) * np.exp(np.abs(rng.normal(0, 0.006, n_days)))
            frame["low"] = np.minimum(close, frame["open"]) * np.exp(-np.abs(rng.normal(0, 0.006, n_days)))
            frame["volume"] = rng.lognormal(13, 0.4, n_days)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def _engine(prices: pd.DataFrame, market=None) -> pd.DataFrame:
    return features.compute(prices, market, dtype=np.float64).set_index(["ticker", "date"]).sort_index()


@pytest.mark.parametrize("ohlc", [True, False])
def test_seed_features_match_the_pandas_reference_to_1e9(ohlc):
    prices = synthetic_ohlcv(ohlc=ohlc)
    engine = _engine(prices)
    reference = seed_features(prices).set_index(["ticker", "date"]).sort_index()
    for name in features.SEED_FEATURE_NAMES:
        a, b = engine[name].to_numpy(), reference[name].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        assert np.nanmax(np.abs(a - b)) < 1e-9, name
        assert np.isfinite(a).sum() > 0.7 * len(a), name  # defined after the warm-up, never all-NaN


def test_adx_uses_high_low_when_present_and_the_close_variant_otherwise():
    with_hl = _engine(synthetic_ohlcv(ohlc=True))
    close_only = _engine(synthetic_ohlcv(ohlc=False))
    assert not np.allclose(with_hl["adx_14"].dropna(), with_hl["adx_14_close"].dropna())
    pd.testing.assert_series_equal(close_only["adx_14"], close_only["adx_14_close"], check_names=False)
    assert close_only["adx_14"].notna().mean() > 0.9
    assert close_only["adx_14"].dropna().between(0, 100).all()


def test_volatility_features_are_on_returns_not_price_levels():
    prices = synthetic_ohlcv(ohlc=False)
    doubled = prices.assign(close=prices["close"] * 2)  # scale-free: the same returns
    pd.testing.assert_frame_equal(_engine(prices), _engine(doubled), rtol=1e-9, atol=1e-12)


def test_every_feature_at_or_before_t_ignores_prices_after_t():
    prices = synthetic_ohlcv()
    market = pd.Series(
        np.exp(np.linspace(0, 0.3, 400)) * 100, index=pd.bdate_range("2003-01-01", periods=400)
    )
    cut = prices["date"].sort_values().unique()[300]
    shocked = prices.copy()
    later = shocked["date"] > cut
    for col in ("open", "high", "low", "close", "volume"):
        shocked.loc[later, col] *= np.random.default_rng(3).uniform(0.5, 1.5, later.sum())
    shocked_market = market.where(market.index <= cut, market * 3)
    for m, m_shocked in ((None, None), (market, shocked_market)):
        a, b = _engine(prices, m), _engine(shocked, m_shocked)
        before = a.index.get_level_values("date") <= cut
        pd.testing.assert_frame_equal(a[before], b[before])
        assert not a[~before].equals(b[~before])


def test_a_new_day_from_the_lookback_window_equals_the_full_history():
    prices = synthetic_ohlcv(n_days=600)
    dates = np.sort(prices["date"].unique())
    recent = prices[prices["date"] >= dates[-features.LOOKBACK]]
    full = _engine(prices).xs(dates[-1], level="date")
    new_day = _engine(recent).xs(dates[-1], level="date")
    assert new_day.notna().all().all()
    pd.testing.assert_frame_equal(full, new_day, rtol=1e-9, atol=1e-9)
    shorter = _engine(prices[prices["date"] >= dates[-features.LOOKBACK + 1]]).xs(dates[-1], level="date")
    assert shorter.isna().any().any()  # LOOKBACK is what the slowest feature needs, not more


def test_volume_and_candle_features_are_defined_with_volume_and_nan_without():
    specs = {s.name: s for s in features.SPECS}
    needs = [n for n, s in specs.items() if s.group in ("volume", "candle")]
    with_volume = _engine(synthetic_ohlcv(ohlc=True))
    close_only = _engine(synthetic_ohlcv(ohlc=False))
    assert with_volume[needs].notna().mean().min() > 0.8
    assert close_only[needs].isna().all().all()
    assert all(specs[n].note for n in needs)  # documented as NaN by design
    others = [n for n in features.FEATURE_NAMES if n not in needs]
    assert close_only[others].notna().mean().min() > 0.3


def test_market_beta_uses_the_benchmark_when_given_else_the_equal_weight_universe():
    prices = synthetic_ohlcv(ohlc=False)
    close = prices.pivot(index="date", columns="ticker", values="close")
    equal_weight = _engine(prices)
    own = _engine(prices, close["AAA"])  # AAA itself as the market: beta and correlation 1
    aaa = own.xs("AAA")
    assert np.allclose(aaa["mkt_beta_60d"].dropna(), 1.0) and np.allclose(aaa["mkt_corr_60d"].dropna(), 1.0)
    ret = close.pct_change()
    ew = ret.mean(axis=1)
    beta = ret["BBB"].rolling(60).cov(ew) / ew.rolling(60).var()
    got = equal_weight.xs("BBB")["mkt_beta_60d"]
    assert np.nanmax(np.abs(got.to_numpy() - beta.to_numpy())) < 1e-9


def test_library_matches_plain_definitions_on_one_date():
    prices = synthetic_ohlcv()
    out = _engine(prices)
    g = prices[prices["ticker"] == "CCC"].set_index("date")
    c, hi, lo = g["close"], g["high"], g["low"]
    d, i = c.index[300], 300
    row = out.loc[("CCC", d)]
    assert row["ret_60d"] == pytest.approx(c.iloc[i] / c.iloc[i - 60] - 1, abs=1e-12)
    assert row["ma_ratio_20"] == pytest.approx(c.iloc[i - 19 : i + 1].mean() / c.iloc[i] - 1, abs=1e-12)
    r = c.pct_change()
    assert row["vol_20d"] == pytest.approx(r.iloc[i - 19 : i + 1].std() * np.sqrt(252), abs=1e-12)
    assert row["high_ratio_30"] == pytest.approx(hi.iloc[i - 29 : i + 1].max() / c.iloc[i] - 1, abs=1e-12)
    top, bottom = hi.iloc[i - 19 : i + 1].max(), lo.iloc[i - 19 : i + 1].min()
    assert row["range_pos_20"] == pytest.approx((c.iloc[i] - bottom) / (top - bottom), abs=1e-12)
    assert row["rank_10"] == pytest.approx((c.iloc[i - 9 : i + 1] <= c.iloc[i]).mean(), abs=1e-12)
    assert row["high_age_60"] == pytest.approx(
        (59 - int(np.flatnonzero(hi.iloc[i - 59 : i + 1].to_numpy() == hi.iloc[i - 59 : i + 1].max())[-1]))
        / 60
    )
    assert row["drawdown_252d"] == pytest.approx(c.iloc[i] / c.iloc[i - 251 : i + 1].max() - 1, abs=1e-12)
    y = np.log(c.iloc[i - 29 : i + 1].to_numpy())
    slope, intercept = np.polyfit(np.arange(30), y, 1)
    assert row["trend_30"] == pytest.approx(slope, abs=1e-12)
    assert row["trend_r2_30"] == pytest.approx(np.corrcoef(np.arange(30), y)[0, 1] ** 2, abs=1e-9)
    lv = np.log1p(g["volume"])
    assert row["corr_price_volume_20"] == pytest.approx(
        np.corrcoef(c.iloc[i - 19 : i + 1], lv.iloc[i - 19 : i + 1])[0, 1], abs=1e-9
    )
    assert row["skew_60d"] == pytest.approx(_pop_skew(r.iloc[i - 59 : i + 1]), abs=1e-9)


def _pop_skew(x: pd.Series) -> float:
    d = x - x.mean()
    return float((d**3).mean() / (d**2).mean() ** 1.5)


def test_cross_sectional_ranks_and_z_scores_per_date():
    out = _engine(synthetic_ohlcv())
    d = out.index.get_level_values("date").unique()[300]
    day = out.xs(d, level="date")
    mom = day["momentum_20d"]
    assert list(day["cs_rank_momentum_20d"].rank()) == list(mom.rank())
    assert day["cs_rank_momentum_20d"].min() == 0 and day["cs_rank_momentum_20d"].max() == 1
    assert np.allclose(day["cs_z_momentum_20d"], (mom - mom.mean()) / mom.std())


def test_library_size_names_and_warm_up():
    assert len(features.FEATURE_NAMES) >= 100
    assert len(set(features.FEATURE_NAMES)) == len(features.FEATURE_NAMES)
    assert all(n.isidentifier() and n == n.lower() for n in features.FEATURE_NAMES)
    assert features.LOOKBACK == max(s.history for s in features.SPECS) == 253


def test_selection_is_by_name_in_feature_order_and_rejects_unknown_names():
    assert features.selected_feature_names(None) == features.FEATURE_NAMES
    assert features.selected_feature_names(["vr_2", "momentum_20d"]) == ("momentum_20d", "vr_2")
    assert 20 <= len(features.selected_feature_names(features.DEFAULT_MODEL_FEATURES)) <= 30
    with pytest.raises(ValueError, match="nope"):
        features.selected_feature_names(["momentum_20d", "nope"])


def test_config_selection_defaults_and_validation():
    from portfolio_dagster.config import FeaturesConfig, load_config

    assert load_config().features.selected == features.DEFAULT_MODEL_FEATURES
    assert FeaturesConfig(selected=None).selected is None
    with pytest.raises(ValueError, match="unknown feature"):
        FeaturesConfig(selected=("not_a_feature",))


def test_stored_output_is_float32_of_the_float64_engine():
    prices = synthetic_ohlcv(n_days=300)
    stored = features.compute(prices)
    exact = features.compute(prices, dtype=np.float64)
    assert (stored[list(features.FEATURE_NAMES)].dtypes == np.float32).all()
    assert list(stored.columns) == ["ticker", "date", *features.FEATURE_NAMES]
    np.testing.assert_allclose(
        stored[list(features.FEATURE_NAMES)].to_numpy(dtype=float),
        exact[list(features.FEATURE_NAMES)].to_numpy(),
        rtol=1e-6,
        atol=1e-6,
    )


def test_gaps_and_late_listings_give_nan_windows_not_errors():
    prices = synthetic_ohlcv(ohlc=False)
    dates = np.sort(prices["date"].unique())
    gappy = prices[~((prices["ticker"] == "AAA") & (prices["date"] == dates[200]))]
    late = gappy[~((gappy["ticker"] == "BBB") & (gappy["date"] < dates[150]))]
    out = _engine(late)
    assert len(out) == len(late)
    aaa = out.xs("AAA")
    assert np.isnan(aaa.loc[dates[201], "ret_1d"]) and np.isfinite(aaa.loc[dates[199], "ret_1d"])
    assert out.xs("BBB").index.min() == dates[150]
    with pytest.raises(ValueError, match="duplicate"):
        features.compute(pd.concat([prices, prices.iloc[:1]]))


def test_since_outputs_only_the_newest_dates_with_the_same_values():
    prices = synthetic_ohlcv(n_days=320)
    dates = np.sort(prices["date"].unique())
    full = _engine(prices)
    tail = (
        features.compute(prices, dtype=np.float64, since=dates[-5]).set_index(["ticker", "date"]).sort_index()
    )
    assert set(tail.index.get_level_values("date")) == set(dates[-5:])
    pd.testing.assert_frame_equal(tail, full[full.index.get_level_values("date") >= dates[-5]])


def test_pmx_bench_names_an_unknown_benchmark_in_one_line(capsys):
    from portfolio_dagster.cli import main

    assert main(["bench", "no_such_topic"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "benchmarks/bench_no_such_topic.py" in err
