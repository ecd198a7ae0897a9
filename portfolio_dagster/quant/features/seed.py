"""The seed project's features, correctly defined (volatility on returns, ADX on any source).

Hurst and variance ratios share one O(n * lags) pass: for each lag L the L-day log-price differences
inside the trailing window have running sums, so no window is ever re-scanned.
"""

from __future__ import annotations

import numpy as np

from portfolio_dagster.quant.features import rolling
from portfolio_dagster.quant.features.inputs import Panels
from portfolio_dagster.quant.features.registry import FeatureSpec

MOMENTUM_WINDOW = 20
ADX_WINDOW = 14
BOLLINGER_WINDOW = 20
VOL_RATIO_WINDOWS = (10, 63)
HURST_WINDOW = 100  # closes per window (Hurst and variance ratios)
HURST_LAGS = tuple(range(2, 21))  # std of L-day log differences ~ L**H
VR_PERIODS = (2, 5, 10)

SPECS = [
    FeatureSpec("momentum_20d", "seed", "close / close[t-20] - 1", 20, "close", 21),
    FeatureSpec(
        "adx_14",
        "seed",
        "Average directional index: +DM, -DM and true range from high/low/close (high = low = close "
        "on rows without high/low, i.e. the close-based variant), +DI/-DI = 100 * 14-day sums of DM / "
        "14-day sum of TR, DX = 100 |+DI - -DI| / (+DI + -DI), ADX = 14-day mean of DX "
        "(simple sums instead of Wilder's recursion, so the value has a finite 28-day window)",
        14,
        "high (close where absent), low (close where absent), close",
        28,
    ),
    FeatureSpec(
        "adx_14_close",
        "seed",
        "ADX as adx_14 with high = low = close: DX = 100 |sum of up moves - sum of down moves| / "
        "sum of |moves| over 14 days (a directional efficiency), ADX = its 14-day mean",
        14,
        "close",
        28,
    ),
    FeatureSpec(
        "bollinger_position",
        "seed",
        "(close - mean20(close)) / (2 * std20(close)), sample std",
        20,
        "close",
        20,
    ),
    FeatureSpec("vol_ratio_10_63", "seed", "std10(daily return) / std63(daily return)", 63, "close", 64),
    FeatureSpec(
        "hurst_100",
        "seed",
        "slope of log std(L-day log-price differences within the last 100 closes) on log L, "
        "L = 2..20 (population std)",
        100,
        "close",
        100,
    ),
    *[
        FeatureSpec(
            f"vr_{q}",
            "seed",
            f"variance ratio: var({q}-day log differences within the last 100 closes) / "
            f"({q} * var(1-day log returns within them)), sample variances",
            100,
            "close",
            100,
        )
        for q in VR_PERIODS
    ],
]


def adx(close: np.ndarray, high: np.ndarray, low: np.ndarray, w: int = ADX_WINDOW) -> np.ndarray:
    """Wilder's average directional index over `w` rows from close, high and low."""
    with np.errstate(invalid="ignore", divide="ignore"):
        prev_c, prev_h, prev_l = rolling.lag(close, 1), rolling.lag(high, 1), rolling.lag(low, 1)
        up, down = high - prev_h, prev_l - low
        plus = np.where((up > down) & (up > 0), up, 0.0)
        minus = np.where((down > up) & (down > 0), down, 0.0)
        tr = np.maximum(high - low, np.maximum(np.abs(high - prev_c), np.abs(low - prev_c)))  # NaN propagates
        undefined = np.isnan(tr)
        plus[undefined] = np.nan
        minus[undefined] = np.nan
        tr_sum = rolling.window_sum(tr, w)
        plus_di = 100 * rolling.window_sum(plus, w) / tr_sum
        minus_di = 100 * rolling.window_sum(minus, w) / tr_sum
        dx = 100 * np.abs(plus_di - minus_di) / (plus_di + minus_di)
        dx[~np.isfinite(dx)] = np.nan
        return rolling.window_mean(dx, w)


def lag_difference_stats(log_close: np.ndarray, window: int, lags: tuple[int, ...]) -> dict[int, tuple]:
    """lag -> (count, mean, population var) of L-day log differences whose both ends lie in the window."""
    out = {}
    for lag in lags:
        d = log_close - rolling.lag(log_close, lag)
        m = window - lag
        s1, s2 = rolling.running_sums(d, m, (1, 2))
        # The `window` closes ending at t hold exactly the differences ending at t-m+1..t.
        mean = s1 / m
        out[lag] = (m, mean, np.maximum(s2 / m - mean * mean, 0.0))
    return out


def compute(p: Panels) -> dict[str, np.ndarray]:
    """The seed plan's features (20-day momentum, ADX, Bollinger position, volatility ratio, Hurst)."""
    close = p.close
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"momentum_20d": close / rolling.lag(close, MOMENTUM_WINDOW) - 1.0}
        out["adx_14"] = adx(close, p.high_or_close, p.low_or_close)
        out["adx_14_close"] = adx(close, close, close)
        mean = rolling.window_mean(close, BOLLINGER_WINDOW)
        std = rolling.window_std(close, BOLLINGER_WINDOW)
        out["bollinger_position"] = (close - mean) / (2.0 * std)
        short, long_ = VOL_RATIO_WINDOWS
        returns = rolling.Running(p.ret)
        out["vol_ratio_10_63"] = rolling.running_std(returns, short) / rolling.running_std(returns, long_)
        stats = lag_difference_stats(p.log_close, HURST_WINDOW, (1, *HURST_LAGS, *VR_PERIODS))
        x = np.log(np.array(HURST_LAGS, dtype=float))
        x -= x.mean()
        log_tau = [0.5 * np.log(stats[lag][2]) for lag in HURST_LAGS]
        out["hurst_100"] = sum(xi * yi for xi, yi in zip(x, log_tau, strict=True)) / float(x @ x)
        m1, _, var1 = stats[1]
        sample_var1 = var1 * m1 / (m1 - 1)
        for q in VR_PERIODS:
            mq, _, varq = stats[q]
            out[f"vr_{q}"] = (varq * mq / (mq - 1)) / (q * sample_var1)
    for v in out.values():
        v[~np.isfinite(v)] = np.nan
    return out
