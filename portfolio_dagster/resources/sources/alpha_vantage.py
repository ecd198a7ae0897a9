"""Alpha Vantage TIME_SERIES_DAILY_ADJUSTED: daily OHLCV with adjusted close (splits and dividends)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from portfolio_dagster.resources.sources.actions import ACTION_SOURCE_COLUMNS
from portfolio_dagster.resources.sources.errors import SourceError
from portfolio_dagster.resources.sources.http import HttpClient
from portfolio_dagster.resources.sources.sample import RAW_COLUMNS

URL = "https://www.alphavantage.co/query"
FUNCTION = "TIME_SERIES_DAILY_ADJUSTED"
SERIES_KEY = "Time Series (Daily)"
# outputsize=compact returns the latest 100 trading days: enough for a daily run and its overlap.
COMPACT_CALENDAR_DAYS = 140


def check_body(body: object) -> None:
    """Alpha Vantage answers errors with HTTP 200 and a message in the body."""
    if not isinstance(body, dict):
        raise SourceError("alpha_vantage: unexpected response (not a JSON object)")
    message = str(body.get("Error Message") or body.get("Note") or body.get("Information") or "")
    lower = message.lower()
    if "apikey" in lower or "api key" in lower and "invalid" in lower:
        raise SourceError("alpha_vantage: the API key was refused; check ALPHA_VANTAGE_API_KEY")
    if "rate limit" in lower or "call frequency" in lower or "requests per day" in lower:
        raise SourceError(
            "alpha_vantage: rate limit or daily quota exhausted; retry later or lower "
            "data.live.requests_per_minute.alpha_vantage"
        )
    if "premium" in lower:
        raise SourceError("alpha_vantage: this endpoint needs a premium plan for the key")
    if "Error Message" in body:
        raise SourceError("alpha_vantage: unknown symbol or invalid call (Error Message in the response)")
    if SERIES_KEY not in body:
        raise SourceError(f"alpha_vantage: response without {SERIES_KEY!r}")


def parse(body: dict, ticker: str) -> pd.DataFrame:
    """Rows with prices scaled to the adjusted close (factor adjusted/close on open, high, low);
    delivered_ticker: the symbol the response says it is about; split_ratio and dividend from the split
    coefficient and the dividend amount of each ex-date."""
    delivered = body.get("Meta Data", {}).get("2. Symbol", ticker)
    rows = []
    for day, rec in body[SERIES_KEY].items():
        close = float(rec["4. close"])
        adjusted = float(rec.get("5. adjusted close", close))
        factor = adjusted / close if close else float("nan")
        rows.append(
            (
                ticker,
                dt.date.fromisoformat(day),
                float(rec["1. open"]) * factor,
                float(rec["2. high"]) * factor,
                float(rec["3. low"]) * factor,
                adjusted,
                float(rec.get("6. volume", rec.get("5. volume", "nan"))),
                float(rec.get("8. split coefficient", "1.0")),
                float(rec.get("7. dividend amount", "0.0")),
            )
        )
    frame = pd.DataFrame(rows, columns=[*RAW_COLUMNS, *ACTION_SOURCE_COLUMNS])
    frame["delivered_ticker"] = str(delivered).upper()
    return frame


class AlphaVantageSource:
    name = "alpha_vantage"

    def __init__(self, client: HttpClient, api_key: str) -> None:
        self.client = client
        self._api_key = api_key

    def fetch(self, ticker: str, start: dt.date, end: dt.date, today: dt.date) -> pd.DataFrame:
        size = "compact" if (today - start).days <= COMPACT_CALENDAR_DAYS else "full"
        body = self.client.get_json(
            URL,
            {
                "function": FUNCTION,
                "symbol": ticker,
                "outputsize": size,
                "datatype": "json",
                "apikey": self._api_key,
            },
            check_body,
            cache_extra={"as_of": end.isoformat()},
        )
        frame = parse(body, ticker)
        return frame[(frame["date"] >= start) & (frame["date"] < end)]
