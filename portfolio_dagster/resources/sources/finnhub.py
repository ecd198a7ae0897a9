"""Finnhub: /stock/candle at daily resolution (arrays of o, h, l, c, v over unix timestamps; daily candles
are split-adjusted) and /stock/split (a list of {symbol, date, fromFactor, toFactor}: fromFactor old shares
became toFactor new ones on the ex-date `date`), a second request per ticker."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from portfolio_dagster.resources.sources.errors import SourceError
from portfolio_dagster.resources.sources.http import HttpClient
from portfolio_dagster.resources.sources.sample import RAW_COLUMNS

URL = "https://finnhub.io/api/v1/stock/candle"
SPLIT_URL = "https://finnhub.io/api/v1/stock/split"


def _check_error(body: dict) -> None:
    if "error" in body:
        text = str(body["error"]).lower()
        if "limit" in text:
            raise SourceError(
                "finnhub: API limit reached; retry later or lower data.live.requests_per_minute.finnhub"
            )
        if "key" in text:
            raise SourceError("finnhub: the API key was refused; check FINNHUB_API_KEY")
        if "access" in text:
            raise SourceError("finnhub: the API key's plan has no access to this endpoint")
        raise SourceError("finnhub: the request was refused (error in the response)")


def check_body(body: object) -> None:
    """A /stock/candle answer: an error shape, or arrays of one length."""
    if not isinstance(body, dict):
        raise SourceError("finnhub: unexpected response (not a JSON object)")
    _check_error(body)
    if body.get("s") not in ("ok", "no_data"):
        raise SourceError(f"finnhub: unexpected status {str(body.get('s'))[:20]!r}")
    if body.get("s") == "ok":
        lengths = {len(body.get(k) or []) for k in ("t", "o", "h", "l", "c", "v")}
        if len(lengths) != 1:
            raise SourceError("finnhub: candle arrays of different lengths")


def check_splits(body: object) -> None:
    """A /stock/split answer: a list of splits, each with an ISO date and positive factors."""
    if isinstance(body, dict):
        _check_error(body)
        raise SourceError("finnhub: unexpected split response (an object, not a list)")
    if not isinstance(body, list):
        raise SourceError("finnhub: unexpected split response (not a JSON list)")
    for item in body:
        try:
            dt.date.fromisoformat(str(item["date"]))
            ok = float(item["fromFactor"]) > 0 and float(item["toFactor"]) > 0
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise SourceError(f"finnhub: unreadable split record {str(item)[:80]!r}")


def parse(body: dict, ticker: str) -> pd.DataFrame:
    """The candles of one ticker as RAW_COLUMNS rows."""
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


def parse_splits(body: list) -> pd.Series:
    """Split ratio (new shares per old: toFactor / fromFactor) by ex-date; a ratio of 1 is no split."""
    ratios = {
        dt.date.fromisoformat(str(item["date"])): float(item["toFactor"]) / float(item["fromFactor"])
        for item in body
    }
    series = pd.Series(ratios, dtype=float)
    return series[series != 1.0].sort_index()


def with_splits(frame: pd.DataFrame, splits: pd.Series) -> pd.DataFrame:
    """`frame` with a split_ratio column: each split on the first row dated on or after its ex-date (a
    split whose ex-date has no candle yet is left to the run that fetches that session)."""
    frame = frame.reset_index(drop=True).assign(split_ratio=float("nan"))
    for day, ratio in splits.items():
        on_or_after = frame.index[frame["date"] >= day]
        if len(on_or_after):
            row = on_or_after.min()
            earlier = frame.at[row, "split_ratio"]  # two splits before one candle: their product
            frame.at[row, "split_ratio"] = ratio * (1.0 if pd.isna(earlier) else earlier)
    return frame


class FinnhubSource:
    """Daily candles and splits of one ticker over [start, end), through the shared HTTP client."""

    name = "finnhub"

    def __init__(self, client: HttpClient, api_key: str) -> None:
        self.client = client
        self._api_key = api_key

    def fetch(self, ticker: str, start: dt.date, end: dt.date, today: dt.date) -> pd.DataFrame:
        """RAW_COLUMNS and split_ratio rows of `ticker` dated start <= date < end."""
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
        frame = frame[(frame["date"] >= start) & (frame["date"] < end)]
        splits = self.client.get_json(
            SPLIT_URL,
            {
                "symbol": ticker,
                "from": start.isoformat(),
                "to": (end - dt.timedelta(days=1)).isoformat(),
                "token": self._api_key,
            },
            check_splits,
        )
        return with_splits(frame, parse_splits(splits))
