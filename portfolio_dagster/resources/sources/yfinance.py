"""Yahoo Finance through the yfinance package: auto-adjusted daily OHLCV, under the same throttle as the
HTTP sources (rate limit, retries with backoff, on-disk cache) and with narrow error handling: a rate
limit or a dropped connection is retried, Yahoo's refusals are one line, anything else is a bug and raises."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pandas as pd

from portfolio_dagster.resources.sources.actions import ACTION_SOURCE_COLUMNS
from portfolio_dagster.resources.sources.errors import SourceError
from portfolio_dagster.resources.sources.sample import RAW_COLUMNS
from portfolio_dagster.resources.sources.throttle import Retry, Throttle

YF_COLUMNS = [*RAW_COLUMNS, *ACTION_SOURCE_COLUMNS]

# (symbol, start, end) -> the frame yfinance's Ticker.history returns. The network edge: tests pass a fake.
History = Callable[[str, dt.date, dt.date], pd.DataFrame]


def yahoo_history(symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    import yfinance as yf

    # By default yfinance logs most failures and returns an empty frame; raise them so they can be told apart.
    yf.config.debug.hide_exceptions = False
    return yf.Ticker(symbol).history(
        start=start.isoformat(), end=end.isoformat(), interval="1d", auto_adjust=True, actions=True
    )


def parse(frame: pd.DataFrame, ticker: str) -> pd.DataFrame:
    missing = [c for c in ("Open", "High", "Low", "Close", "Volume") if c not in frame.columns]
    if missing:
        raise SourceError(f"yfinance: response for {ticker!r} lacks column {missing[0]!r}")
    dates = pd.DatetimeIndex(frame.index)
    if dates.tz is not None:
        dates = dates.tz_convert("America/New_York").tz_localize(None)
    # Floats throughout (volume included), so a fresh answer and its cached copy are the same frame.
    # actions=True adds Dividends (cash per share) and Stock Splits (new per old; 0 on other days).
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": dates.date,
            **{c.lower(): frame[c].to_numpy(dtype=float) for c in ("Open", "High", "Low", "Close", "Volume")},
            "split_ratio": _column(frame, "Stock Splits"),
            "dividend": _column(frame, "Dividends"),
        }
    )[YF_COLUMNS]


def _column(frame: pd.DataFrame, name: str):
    return frame[name].to_numpy(dtype=float) if name in frame.columns else float("nan")


def transport_errors() -> tuple[type[BaseException], ...]:
    """Timeouts and dropped connections of either HTTP backend yfinance may use: worth a retry."""
    import requests

    errors: list[type[BaseException]] = [requests.exceptions.Timeout, requests.exceptions.ConnectionError]
    try:
        from curl_cffi.requests import exceptions as curl

        errors += [curl.Timeout, curl.ConnectionError]
    except ImportError:
        pass
    return tuple(errors)


def refusal_errors() -> tuple[type[BaseException], ...]:
    """Answers that will not improve on a retry: Yahoo's own errors, an HTTP error, a body that is not
    JSON."""
    import requests
    from yfinance.exceptions import YFException

    errors: list[type[BaseException]] = [
        YFException,
        json.JSONDecodeError,
        requests.exceptions.RequestException,
    ]
    try:
        from curl_cffi.requests import exceptions as curl

        errors.append(curl.RequestException)
    except ImportError:
        pass
    return tuple(errors)


def _to_cache(frame: pd.DataFrame) -> dict:
    rows = frame[YF_COLUMNS[1:]].astype({"date": str}).to_numpy().tolist()
    return {"columns": YF_COLUMNS[1:], "rows": rows}


def _from_cache(body: dict, ticker: str) -> pd.DataFrame:
    frame = pd.DataFrame(body["rows"], columns=body["columns"])
    frame["date"] = [dt.date.fromisoformat(d) for d in frame["date"]]
    for col in YF_COLUMNS[2:]:
        frame[col] = frame[col].astype(float) if col in frame.columns else float("nan")
    return frame.assign(ticker=ticker)[YF_COLUMNS]


class YFinanceSource:
    name = "yfinance"

    def __init__(self, history: History | None = None, throttle: Throttle | None = None) -> None:
        self.history = history or yahoo_history
        # No throttle given: no limit, no retry, no cache (a single direct call).
        self.throttle = throttle or Throttle(self.name, None, 0.0, max_retries=0)

    def fetch(self, ticker: str, start: dt.date, end: dt.date, today: dt.date) -> pd.DataFrame:
        # Only ranges that closed before today are cached: today's bar may still change.
        key = ["history", ticker, start.isoformat(), end.isoformat()] if end <= today else None
        body = self.throttle.cached(key) if key else None
        if body is not None:
            return _from_cache(body, ticker)
        frame = self.throttle.run(lambda: self._attempt(ticker, start, end))
        if frame is None or frame.empty:
            raise self._no_data(ticker, start, end)
        parsed = parse(frame, ticker)
        if key:
            self.throttle.store(key, _to_cache(parsed))
        return parsed

    def _attempt(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame | None:
        from yfinance.exceptions import YFRateLimitError, YFTickerMissingError

        try:
            return self.history(ticker, start, end)
        except YFRateLimitError:
            raise Retry("rate limited (HTTP 429)") from None
        except transport_errors() as exc:
            # The message may carry the URL: name the error type only.
            raise Retry(f"connection failed ({type(exc).__name__})") from None
        except YFTickerMissingError:
            raise self._no_data(ticker, start, end) from None
        except refusal_errors() as exc:
            raise SourceError(f"yfinance: request for {ticker!r} failed ({type(exc).__name__})") from None

    @staticmethod
    def _no_data(ticker: str, start: dt.date, end: dt.date) -> SourceError:
        return SourceError(
            f"yfinance: no data for {ticker!r} in {start}..{end - dt.timedelta(days=1)}: "
            "unknown or delisted symbol"
        )
