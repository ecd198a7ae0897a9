"""Yahoo Finance through the yfinance package: auto-adjusted daily OHLCV."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd

from portfolio_dagster.resources.sources.errors import SourceError
from portfolio_dagster.resources.sources.sample import RAW_COLUMNS

# (symbol, start, end) -> the frame yfinance's Ticker.history returns. The network edge: tests pass a fake.
History = Callable[[str, dt.date, dt.date], pd.DataFrame]


def yahoo_history(symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    import yfinance as yf

    return yf.Ticker(symbol).history(start=start.isoformat(), end=end.isoformat(), interval="1d",
                                     auto_adjust=True, actions=False)


def parse(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    missing = [c for c in ("Open", "High", "Low", "Close", "Volume") if c not in frame.columns]
    if missing:
        raise SourceError(f"yfinance: response for {ticker!r} lacks column {missing[0]!r}")
    dates = pd.DatetimeIndex(frame.index)
    if dates.tz is not None:
        dates = dates.tz_convert("America/New_York").tz_localize(None)
    return pd.DataFrame({"ticker": ticker, "date": dates.date, "open": frame["Open"].to_numpy(),
                         "high": frame["High"].to_numpy(), "low": frame["Low"].to_numpy(),
                         "close": frame["Close"].to_numpy(), "volume": frame["Volume"].to_numpy()})[RAW_COLUMNS]


class YFinanceSource:
    name = "yfinance"

    def __init__(self, history: History = yahoo_history) -> None:
        self.history = history

    def fetch(self, ticker: str, start: dt.date, end: dt.date, today: dt.date) -> pd.DataFrame:
        try:
            frame = self.history(ticker, start, end)
        except Exception as exc:  # yfinance raises many types; one line, no traceback
            raise SourceError(f"yfinance: request for {ticker!r} failed ({type(exc).__name__})") from None
        if frame is None or frame.empty:
            raise SourceError(f"yfinance: no data for {ticker!r} in {start}..{end - dt.timedelta(days=1)}: "
                              "unknown or delisted symbol")
        return parse(frame, ticker)
