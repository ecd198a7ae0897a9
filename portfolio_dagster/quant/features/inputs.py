"""Long price frames to the date x ticker arrays every feature kernel reads."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

PRICE_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Panels:
    """Date x ticker arrays of one price history (open/high/low/volume NaN where the source has none)."""

    dates: pd.DatetimeIndex
    tickers: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    market: np.ndarray  # daily simple return of the market per date (column vector, dates x 1)

    @property
    def ret(self) -> np.ndarray:
        """Simple daily return; NaN on a ticker's first row and after a gap."""
        return _cached(self, "_ret", lambda: self.close / _lag1(self.close) - 1.0)

    @property
    def log_close(self) -> np.ndarray:
        return _cached(self, "_log_close", lambda: np.log(self.close))

    @property
    def high_or_close(self) -> np.ndarray:
        """High where the source has it, else the close (close-only sources)."""
        return _cached(
            self, "_hi", lambda: np.where(np.isnan(self.high) | np.isnan(self.low), self.close, self.high)
        )

    @property
    def low_or_close(self) -> np.ndarray:
        return _cached(
            self, "_lo", lambda: np.where(np.isnan(self.high) | np.isnan(self.low), self.close, self.low)
        )

    @property
    def has_volume(self) -> bool:
        return bool(np.isfinite(self.volume).any())


def _lag1(x: np.ndarray) -> np.ndarray:
    out = np.full_like(x, np.nan)
    out[1:] = x[:-1]
    return out


def _cached(obj: Panels, key: str, make):
    cache = obj.__dict__.setdefault("_cache", {})
    if key not in cache:
        with np.errstate(invalid="ignore", divide="ignore"):
            cache[key] = make()
    return cache[key]


def panels(prices: pd.DataFrame, market_close: pd.Series | None = None) -> Panels:
    """prices: long (ticker, date, close[, open, high, low, volume]). market_close: the benchmark's close
    by date, or None: the market is the equal-weight mean of the universe's daily returns."""
    frame = prices.copy()
    frame["date"] = pd.to_datetime(frame["date"])
    if frame.duplicated(["ticker", "date"]).any():
        raise ValueError("prices hold duplicate (ticker, date) rows")
    dates = pd.DatetimeIndex(np.unique(frame["date"].to_numpy()))
    tickers = tuple(str(t) for t in np.unique(frame["ticker"].to_numpy().astype(str)))
    row = dates.get_indexer(frame["date"])
    col = pd.Index(tickers).get_indexer(frame["ticker"])
    arrays = {}
    for field in PRICE_FIELDS:
        a = np.full((len(dates), len(tickers)), np.nan)
        if field in frame:
            a[row, col] = pd.to_numeric(frame[field], errors="coerce").to_numpy(dtype=float)
        arrays[field] = a
    p = Panels(dates, tickers, market=np.empty((len(dates), 1)), **arrays)
    if market_close is not None and len(market_close):
        m = pd.Series(market_close.to_numpy(dtype=float), index=pd.to_datetime(market_close.index))
        m = m[~m.index.duplicated()].sort_index()
        market = (m / m.shift(1) - 1.0).reindex(dates).to_numpy()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            market = np.nanmean(p.ret, axis=1) if len(tickers) else np.full(len(dates), np.nan)
    p.market[:, 0] = market
    return p
