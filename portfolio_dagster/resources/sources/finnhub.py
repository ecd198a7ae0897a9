"""Finnhub /stock/candle at daily resolution: arrays of o, h, l, c, v over unix timestamps."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from portfolio_dagster.resources.sources.errors import SourceError
from portfolio_dagster.resources.sources.http import HttpClient
from portfolio_dagster.resources.sources.sample import RAW_COLUMNS

URL = "https://finnhub.io/api/v1/stock/candle"


def check_body(body: object) -> None:
    if not isinstance(body, dict):
        raise SourceError("finnhub: unexpected response (not a JSON object)")
    if "error" in body:
        text = str(body["error"]).lower()
        if "limit" in text:
            raise SourceError(
                "finnhub: API limit reached; retry later or lower data.live.requests_per_minute.finnhub"
            )
        if "key" in text:
            raise SourceError("finnhub: the API key was refused; check FINNHUB_API_KEY")
        raise SourceError("finnhub: the request was refused (error in the response)")
    if body.get("s") not in ("ok", "no_data"):
        raise SourceError(f"finnhub: unexpected status {str(body.get('s'))[:20]!r}")
    if body.get("s") == "ok":
        lengths = {len(body.get(k) or []) for k in ("t", "o", "h", "l", "c", "v")}
        if len(lengths) != 1:
            raise SourceError("finnhub: candle arrays of different lengths")


def parse(body: dict, ticker: str) -> pd.DataFrame:
    if body.get("s") == "no_data":
        return pd.DataFrame(columns=RAW_COLUMNS)
    dates = [dt.datetime.fromtimestamp(int(t), tz=dt.UTC).date() for t in body["t"]]
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": dates,
            "open": body["o"],
            "high": body["h"],
            "low": body["l"],
            "close": body["c"],
            "volume": body["v"],
        }
    )[RAW_COLUMNS]


class FinnhubSource:
    name = "finnhub"

    def __init__(self, client: HttpClient, api_key: str) -> None:
        self.client = client
        self._api_key = api_key

    def fetch(self, ticker: str, start: dt.date, end: dt.date, today: dt.date) -> pd.DataFrame:
        lo = int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp())
        hi = int(dt.datetime.combine(end, dt.time(), dt.UTC).timestamp()) - 1
        body = self.client.get_json(
            URL,
            {"symbol": ticker, "resolution": "D", "from": lo, "to": hi, "token": self._api_key},
            check_body,
        )
        if body.get("s") == "no_data":
            raise SourceError(
                f"finnhub: no data for {ticker!r} in {start}..{end - dt.timedelta(days=1)}: "
                "unknown symbol or no trading"
            )
        frame = parse(body, ticker)
        return frame[(frame["date"] >= start) & (frame["date"] < end)]
