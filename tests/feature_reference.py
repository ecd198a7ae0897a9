"""A plain pandas reference of the seed features: one ticker at a time, each window recomputed from its
own closes (rolling.apply for Hurst and variance ratios). Slow by design; the engine must match it."""

from __future__ import annotations

import numpy as np
import pandas as pd

HURST_LAGS = np.arange(2, 21)


def _hurst(window: np.ndarray) -> float:
    lp = np.log(window)
    taus = [np.std(lp[lag:] - lp[:-lag]) for lag in HURST_LAGS]
    return float(np.polyfit(np.log(HURST_LAGS), np.log(taus), 1)[0])


def _variance_ratio(window: np.ndarray, q: int) -> float:
    lp = np.log(window)
    var1 = np.var(np.diff(lp), ddof=1)
    return float(np.var(lp[q:] - lp[:-q], ddof=1) / (q * var1))


def _adx(close: pd.Series, high: pd.Series, low: pd.Series, w: int = 14) -> pd.Series:
    up = high - high.shift(1)
    down = low.shift(1) - low
    plus = pd.Series(np.where((up > down) & (up > 0), up, 0.0), index=close.index).where(up.notna())
    minus = pd.Series(np.where((down > up) & (down > 0), down, 0.0), index=close.index).where(up.notna())
    prev = close.shift(1)
    tr = pd.concat([high - low, (high - prev).abs(), (low - prev).abs()], axis=1).max(axis=1, skipna=False)
    plus_di = 100 * plus.rolling(w).sum() / tr.rolling(w).sum()
    minus_di = 100 * minus.rolling(w).sum() / tr.rolling(w).sum()
    dx = 100 * (plus_di - minus_di).abs() / (plus_di + minus_di)
    return dx.rolling(w).mean()


def seed_features(prices: pd.DataFrame) -> pd.DataFrame:
    """prices: long (ticker, date, close[, high, low]) -> (ticker, date, seed features)."""
    out = []
    for ticker, g in prices.sort_values("date").groupby("ticker"):
        close = g.set_index("date")["close"].astype(float)
        has_hl = {"high", "low"} <= set(g.columns)
        high = g.set_index("date")["high"].astype(float).fillna(close) if has_hl else close
        low = g.set_index("date")["low"].astype(float).fillna(close) if has_hl else close
        ret = close.pct_change(fill_method=None)
        mean20, std20 = close.rolling(20).mean(), close.rolling(20).std()
        f = pd.DataFrame(
            {
                "momentum_20d": close / close.shift(20) - 1,
                "adx_14": _adx(close, high, low),
                "adx_14_close": _adx(close, close, close),
                "bollinger_position": (close - mean20) / (2 * std20),
                "vol_ratio_10_63": ret.rolling(10).std() / ret.rolling(63).std(),
                "hurst_100": close.rolling(100).apply(_hurst, raw=True),
                **{
                    f"vr_{q}": close.rolling(100).apply(_variance_ratio, raw=True, args=(q,))
                    for q in (2, 5, 10)
                },
            }
        )
        out.append(f.assign(ticker=ticker).reset_index())
    return pd.concat(out, ignore_index=True)
