"""The broad library, in the spirit of Qlib's Alpha158: windows of returns, trend, volatility, range,
volume, market exposure and candle shape. All price-level ratios are relative to today's close, so
features are comparable across tickers and through time."""

from __future__ import annotations

import numpy as np

from portfolio_dagster.quant.calendar import TRADING_DAYS as ANNUALIZATION
from portfolio_dagster.quant.features import rolling
from portfolio_dagster.quant.features.inputs import Panels
from portfolio_dagster.quant.features.registry import FeatureSpec, windowed

RETURN_WINDOWS = (1, 2, 3, 5, 10, 30, 60, 120, 252)  # 20 days is the seed's momentum_20d
WINDOWS = (5, 10, 20, 30, 60)  # Alpha158's windows
VOL_WINDOWS = (5, 10, 20, 30, 60, 120, 252)
SHAPE_WINDOWS = (20, 60)
MARKET_WINDOWS = (20, 60, 252)
IDIO_WINDOW = 60
DRAWDOWN_WINDOWS = (120, 252)
NO_VOLUME = "NaN where the source has no volume (the bundled sample is close-only)"
NO_OHLC = "NaN where the source has no open/high/low (the bundled sample is close-only)"
HI, LO = "high (close where absent)", "low (close where absent)"

SPECS = [
    *windowed("returns", "ret_{w}d", "close / close[t-{w}] - 1", RETURN_WINDOWS, "close", 1),
    *windowed("trend", "ma_ratio_{w}", "mean{w}(close) / close - 1", WINDOWS, "close"),
    *windowed(
        "trend",
        "trend_{w}",
        "least-squares slope of log close on day number over {w} days (per day)",
        WINDOWS,
        "close",
    ),
    *windowed("trend", "trend_r2_{w}", "R^2 of that {w}-day regression", WINDOWS, "close"),
    *windowed("trend", "up_share_{w}", "share of the last {w} daily returns > 0", WINDOWS, "close", 1),
    *windowed(
        "trend",
        "gain_ratio_{w}",
        "sum{w}(max(r, 0)) / sum{w}(|r|), r = daily return (RSI-like)",
        WINDOWS,
        "close",
        1,
    ),
    *windowed(
        "volatility", "vol_{w}d", "std{w}(daily return) * sqrt(252), sample std", VOL_WINDOWS, "close", 1
    ),
    *windowed(
        "volatility", "downside_vol_{w}d", "sqrt(mean{w}(min(r, 0)^2)) * sqrt(252)", SHAPE_WINDOWS, "close", 1
    ),
    *windowed(
        "volatility",
        "skew_{w}d",
        "skewness of the last {w} daily returns (population moments)",
        SHAPE_WINDOWS,
        "close",
        1,
    ),
    *windowed("range", "high_ratio_{w}", "max{w}(high) / close - 1", WINDOWS, HI),
    *windowed("range", "low_ratio_{w}", "min{w}(low) / close - 1", WINDOWS, LO),
    *windowed(
        "range",
        "range_pos_{w}",
        "(close - min{w}(low)) / (max{w}(high) - min{w}(low))",
        WINDOWS,
        f"{HI}, {LO}, close",
    ),
    *windowed("range", "rank_{w}", "share of the last {w} closes <= today's close", WINDOWS, "close"),
    *windowed("range", "high_age_{w}", "days since the latest {w}-day high / {w} (0 = today)", WINDOWS, HI),
    *windowed("range", "low_age_{w}", "days since the latest {w}-day low / {w} (0 = today)", WINDOWS, LO),
    *windowed("range", "high_low_age_{w}", "high_age_{w} - low_age_{w}", WINDOWS, f"{HI}, {LO}"),
    *windowed("range", "drawdown_{w}d", "close / max{w}(close) - 1", DRAWDOWN_WINDOWS, "close"),
    *windowed(
        "volume",
        "corr_price_volume_{w}",
        "corr{w}(close, log(1 + volume))",
        WINDOWS,
        "close, volume",
        note=NO_VOLUME,
    ),
    *windowed(
        "volume",
        "corr_ret_volume_{w}",
        "corr{w}(daily return, daily change of log(1 + volume))",
        WINDOWS,
        "close, volume",
        1,
        note=NO_VOLUME,
    ),
    *windowed("volume", "volume_ma_ratio_{w}", "mean{w}(volume) / volume", WINDOWS, "volume", note=NO_VOLUME),
    *windowed("volume", "volume_std_ratio_{w}", "std{w}(volume) / volume", WINDOWS, "volume", note=NO_VOLUME),
    *windowed(
        "market",
        "mkt_beta_{w}d",
        "cov{w}(r, market r) / var{w}(market r)",
        MARKET_WINDOWS,
        "close, market",
        1,
    ),
    *windowed("market", "mkt_corr_{w}d", "corr{w}(r, market r)", MARKET_WINDOWS, "close, market", 1),
    FeatureSpec(
        "idio_vol_60d",
        "market",
        "sqrt(var60(r) - beta60^2 var60(market r)) * sqrt(252)",
        IDIO_WINDOW,
        "close, market",
        IDIO_WINDOW + 1,
    ),
    FeatureSpec("candle_body", "candle", "(close - open) / open", 1, "open, close", 1, NO_OHLC),
    FeatureSpec("candle_range", "candle", "(high - low) / open", 1, "open, high, low", 1, NO_OHLC),
    FeatureSpec(
        "candle_upper", "candle", "(high - max(open, close)) / open", 1, "open, high, close", 1, NO_OHLC
    ),
    FeatureSpec(
        "candle_lower", "candle", "(min(open, close) - low) / open", 1, "open, low, close", 1, NO_OHLC
    ),
    FeatureSpec(
        "candle_close_loc",
        "candle",
        "(2 close - high - low) / (high - low)",
        1,
        "high, low, close",
        1,
        NO_OHLC,
    ),
]


def _nan(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, np.nan)


def _returns_trend_vol(p: Panels, out: dict) -> None:
    close, r = p.close, p.ret
    for w in RETURN_WINDOWS:
        out[f"ret_{w}d"] = close / rolling.lag(close, w) - 1.0
    up = rolling.Running(np.where(np.isnan(r), np.nan, (r > 0).astype(float)))
    gains, moves = rolling.Running(np.maximum(r, 0.0)), rolling.Running(np.abs(r))
    for w in WINDOWS:
        out[f"ma_ratio_{w}"] = rolling.window_mean(close, w) / close - 1.0
        out[f"trend_{w}"], out[f"trend_r2_{w}"] = rolling.window_trend(p.log_close, w)
        out[f"up_share_{w}"] = rolling.running_mean(up, w)
        out[f"gain_ratio_{w}"] = gains.sums(w)[0] / moves.sums(w)[0]
    returns = rolling.Running(r)
    for w in VOL_WINDOWS:
        out[f"vol_{w}d"] = rolling.running_std(returns, w) * np.sqrt(ANNUALIZATION)
    downside = rolling.Running(np.minimum(r, 0.0) ** 2)
    for w in SHAPE_WINDOWS:
        out[f"downside_vol_{w}d"] = np.sqrt(rolling.running_mean(downside, w) * ANNUALIZATION)
        out[f"skew_{w}d"] = rolling.running_moments(returns, w)[2]


def _range(p: Panels, out: dict) -> None:
    close, hi, lo = p.close, p.high_or_close, p.low_or_close
    for w in WINDOWS:
        top, bottom = rolling.window_extreme(hi, w, True), rolling.window_extreme(lo, w, False)
        out[f"high_ratio_{w}"] = top / close - 1.0
        out[f"low_ratio_{w}"] = bottom / close - 1.0
        out[f"range_pos_{w}"] = (close - bottom) / (top - bottom)
        out[f"rank_{w}"] = rolling.window_rank(close, w)
        out[f"high_age_{w}"] = rolling.window_extreme_age(hi, top, w)
        out[f"low_age_{w}"] = rolling.window_extreme_age(lo, bottom, w)
        out[f"high_low_age_{w}"] = out[f"high_age_{w}"] - out[f"low_age_{w}"]
    for w in DRAWDOWN_WINDOWS:
        out[f"drawdown_{w}d"] = close / rolling.window_extreme(close, w, True) - 1.0


def _volume(p: Panels, out: dict) -> None:
    names = [s.name for s in SPECS if s.group == "volume"]
    if not p.has_volume:
        out.update({n: _nan(p.close.shape) for n in names})
        return
    vol = p.volume
    log_vol = np.log1p(np.where(vol >= 0, vol, np.nan))
    d_log_vol = log_vol - rolling.lag(log_vol, 1)
    for w in WINDOWS:
        out[f"corr_price_volume_{w}"] = rolling.window_corr(p.close, log_vol, w)
        out[f"corr_ret_volume_{w}"] = rolling.window_corr(p.ret, d_log_vol, w)
        out[f"volume_ma_ratio_{w}"] = rolling.window_mean(vol, w) / vol
        out[f"volume_std_ratio_{w}"] = rolling.window_std(vol, w) / vol


def _market(p: Panels, out: dict) -> None:
    r = p.ret
    m = np.broadcast_to(p.market, r.shape)
    for w in MARKET_WINDOWS:
        cov, var_r, var_m = rolling.running_cov(r, m, w)
        out[f"mkt_beta_{w}d"] = cov / var_m
        out[f"mkt_corr_{w}d"] = cov / np.sqrt(var_r * var_m)
    cov, var_r, var_m = rolling.running_cov(r, m, IDIO_WINDOW)
    out["idio_vol_60d"] = np.sqrt(np.maximum(var_r - cov * cov / var_m, 0.0) * ANNUALIZATION)


def _candle(p: Panels, out: dict) -> None:
    o, h, lo, c = p.open, p.high, p.low, p.close
    out["candle_body"] = (c - o) / o
    out["candle_range"] = (h - lo) / o
    out["candle_upper"] = (h - np.fmax(o, c)) / o
    out["candle_lower"] = (np.fmin(o, c) - lo) / o
    out["candle_close_loc"] = (2 * c - h - lo) / (h - lo)  # NaN propagates from a missing open/high/low


def compute(p: Panels) -> dict[str, np.ndarray]:
    """The Alpha158-style library (returns, trend, volatility, range, volume, market, candle)."""
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        _returns_trend_vol(p, out)
        _range(p, out)
        _volume(p, out)
        _market(p, out)
        _candle(p, out)
    for v in out.values():
        v[~np.isfinite(v)] = np.nan
    return out
