"""Live sources against recorded responses in the providers' documented formats (faked at the network
edge: respx for httpx, a fake of yfinance's history call). Retries, backoff, rate limit, cache, errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pandas as pd
import pytest
import respx

from portfolio_dagster.resources.sources import SourceError, alpha_vantage, finnhub
from portfolio_dagster.resources.sources.alpha_vantage import AlphaVantageSource
from portfolio_dagster.resources.sources.finnhub import FinnhubSource
from portfolio_dagster.resources.sources.http import HttpClient
from portfolio_dagster.resources.sources.yfinance import YFinanceSource

RECORDED = Path(__file__).parent / "recorded"
SECRET = "SECRET-KEY-123"
TODAY = dt.date(2024, 5, 13)


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


class FakeClock:
    """Time that moves only when slept: rate limit and backoff observable without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def client(
    provider: str, tmp_path: Path | None = None, rpm: float = 0.0, retries: int = 3
) -> tuple[HttpClient, FakeClock]:
    clock = FakeClock()
    http = HttpClient(
        provider, tmp_path, rpm, max_retries=retries, backoff_seconds=1.0, sleep=clock.sleep, clock=clock
    )
    return http, clock


def av(tmp_path=None, **kw):
    http, clock = client("alpha_vantage", tmp_path, **kw)
    return AlphaVantageSource(http, SECRET), http, clock


@respx.mock
def test_alpha_vantage_daily_adjusted_is_parsed_and_adjusted():
    route = respx.get(alpha_vantage.URL).mock(
        return_value=httpx.Response(200, text=recorded("alpha_vantage_daily_adjusted_ibm.json"))
    )
    source, _, _ = av()
    frame = source.fetch("IBM", dt.date(2024, 5, 7), dt.date(2024, 5, 11), TODAY)
    assert route.call_count == 1
    sent = route.calls[0].request.url.params
    assert sent["function"] == "TIME_SERIES_DAILY_ADJUSTED" and sent["symbol"] == "IBM"
    assert sent["outputsize"] == "compact"
    frame = frame.sort_values("date").reset_index(drop=True)
    assert list(frame["date"]) == [dt.date(2024, 5, d) for d in (7, 8, 9, 10)]
    # Before the 2024-05-09 dividend the close is the adjusted close and open/high/low scale with it.
    row = frame.iloc[1]
    assert row["close"] == pytest.approx(168.21)
    assert row["open"] == pytest.approx(168.18 * 168.21 / 169.90)
    assert set(frame["delivered_ticker"]) == {"IBM"}


@respx.mock
@pytest.mark.parametrize(
    "body, expected",
    [
        ("alpha_vantage_rate_limit_note.json", "rate limit or daily quota exhausted"),
        ("alpha_vantage_daily_quota_information.json", "rate limit or daily quota exhausted"),
        ("alpha_vantage_invalid_call.json", "unknown symbol or invalid call"),
        ("alpha_vantage_invalid_key.json", "API key was refused"),
    ],
)
def test_alpha_vantage_errors_in_a_200_body_are_one_clear_line(body, expected, tmp_path):
    respx.get(alpha_vantage.URL).mock(return_value=httpx.Response(200, text=recorded(body)))
    source, _, _ = av(tmp_path)
    with pytest.raises(SourceError) as err:
        source.fetch("NOPE", dt.date(2024, 5, 7), dt.date(2024, 5, 11), TODAY)
    message = str(err.value)
    assert expected in message and "\n" not in message and SECRET not in message
    assert not list(tmp_path.rglob("*.json")), "an error body must not be cached"


@respx.mock
def test_another_tickers_data_is_marked_with_the_delivered_symbol():
    body = json.loads(recorded("alpha_vantage_daily_adjusted_ibm.json"))
    respx.get(alpha_vantage.URL).mock(return_value=httpx.Response(200, json=body))
    source, _, _ = av()
    frame = source.fetch("MSFT", dt.date(2024, 5, 7), dt.date(2024, 5, 11), TODAY)
    assert set(frame["ticker"]) == {"MSFT"} and set(frame["delivered_ticker"]) == {"IBM"}


@respx.mock
def test_429_and_5xx_retry_with_exponential_backoff_then_succeed():
    route = respx.get(finnhub.URL).mock(
        side_effect=[
            httpx.Response(429, json={"error": "API limit reached"}),
            httpx.Response(502, text=recorded("html_502.html"), headers={"content-type": "text/html"}),
            httpx.TimeoutException("timed out"),
            httpx.Response(200, text=recorded("finnhub_candle_aapl.json")),
        ]
    )
    splits = respx.get(finnhub.SPLIT_URL).mock(return_value=httpx.Response(200, json=[]))
    http, clock = client("finnhub", retries=3)
    frame = FinnhubSource(http, SECRET).fetch("AAPL", dt.date(2024, 5, 9), dt.date(2024, 5, 14), TODAY)
    assert route.call_count == 4 and splits.call_count == 1
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert list(frame["date"]) == [dt.date(2024, 5, 9), dt.date(2024, 5, 10), dt.date(2024, 5, 13)]
    assert frame["close"].tolist() == [182.15, 181.99, 183.05]
    assert route.calls[0].request.url.params["resolution"] == "D"


@respx.mock
def test_retries_exhausted_is_one_line_without_the_key():
    respx.get(finnhub.URL).mock(return_value=httpx.Response(503, text="Service Unavailable"))
    http, clock = client("finnhub", retries=2)
    with pytest.raises(SourceError, match=r"finnhub: server error \(HTTP 503\) after 3 attempts") as err:
        FinnhubSource(http, SECRET).fetch("AAPL", dt.date(2024, 5, 9), dt.date(2024, 5, 14), TODAY)
    assert SECRET not in str(err.value)
    assert clock.sleeps == [1.0, 2.0]


@respx.mock
@pytest.mark.parametrize(
    "response, expected",
    [
        (httpx.Response(200, text=recorded("finnhub_no_data.json")), "no data for 'ZZZZ'"),
        (httpx.Response(401, text=recorded("finnhub_invalid_key.json")), "API key was refused"),
        (httpx.Response(200, text=recorded("finnhub_limit.json")), "API limit reached"),
        (httpx.Response(200, text=recorded("finnhub_candle_aapl.json")[:57]), "truncated or invalid JSON"),
        (httpx.Response(200, text=recorded("html_502.html")), "an HTML page instead of data"),
        (
            httpx.Response(
                200,
                json={"s": "ok", "t": [1715212800], "c": [1.0, 2.0], "o": [1], "h": [1], "l": [1], "v": [1]},
            ),
            "different lengths",
        ),
    ],
)
def test_finnhub_error_shapes(response, expected):
    respx.get(finnhub.URL).mock(return_value=response)
    http, _ = client("finnhub", retries=0)
    with pytest.raises(SourceError, match=expected) as err:
        FinnhubSource(http, SECRET).fetch("ZZZZ", dt.date(2024, 5, 9), dt.date(2024, 5, 14), TODAY)
    assert SECRET not in str(err.value) and "\n" not in str(err.value)


@respx.mock
def test_connection_error_message_does_not_leak_the_url_with_key():
    respx.get(finnhub.URL).mock(side_effect=httpx.ConnectError(f"failed for ?token={SECRET}"))
    http, _ = client("finnhub", retries=1)
    with pytest.raises(SourceError) as err:
        FinnhubSource(http, SECRET).fetch("AAPL", dt.date(2024, 5, 9), dt.date(2024, 5, 14), TODAY)
    assert SECRET not in str(err.value) and "ConnectError" in str(err.value)


@respx.mock
def test_responses_are_cached_on_disk_without_the_key(tmp_path):
    route = respx.get(alpha_vantage.URL).mock(
        return_value=httpx.Response(200, text=recorded("alpha_vantage_daily_adjusted_ibm.json"))
    )
    first, _, _ = av(tmp_path)
    a = first.fetch("IBM", dt.date(2024, 5, 7), dt.date(2024, 5, 11), TODAY)
    second, http, _ = av(tmp_path)  # a re-run: a new client on the same cache
    b = second.fetch("IBM", dt.date(2024, 5, 7), dt.date(2024, 5, 11), TODAY)
    assert route.call_count == 1 and http.requests_sent == 0
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    files = list(tmp_path.rglob("*.json"))
    assert len(files) == 1 and SECRET not in files[0].read_text() and SECRET not in str(files[0])
    # A later as-of day is a different request: tomorrow's run downloads again.
    second.fetch("IBM", dt.date(2024, 5, 7), dt.date(2024, 5, 12), TODAY)
    assert route.call_count == 2


@respx.mock
def test_rate_limit_spaces_requests():
    respx.get(finnhub.URL).mock(return_value=httpx.Response(200, text=recorded("finnhub_candle_aapl.json")))
    respx.get(finnhub.SPLIT_URL).mock(return_value=httpx.Response(200, json=[]))
    http, clock = client("finnhub", rpm=30.0)  # one request per 2 s
    source = FinnhubSource(http, SECRET)
    for ticker in ("AAPL", "MSFT", "KO"):
        source.fetch(ticker, dt.date(2024, 5, 9), dt.date(2024, 5, 14), TODAY)
    # Two requests per ticker (candles, splits), each 2 s after the one before.
    assert clock.sleeps == [pytest.approx(2.0)] * 5


def yahoo_frame() -> pd.DataFrame:
    frame = pd.read_csv(RECORDED / "yfinance_history_msft.csv")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("Date"), utc=True)).tz_convert("America/New_York")
    frame.index.name = "Date"
    return frame


def test_yfinance_history_is_parsed_to_exchange_dates():
    calls = []

    def history(symbol, start, end):
        calls.append((symbol, start, end))
        return yahoo_frame()

    frame = YFinanceSource(history).fetch("MSFT", dt.date(2024, 5, 6), dt.date(2024, 5, 9), TODAY)
    assert calls == [("MSFT", dt.date(2024, 5, 6), dt.date(2024, 5, 9))]
    assert list(frame["date"]) == [dt.date(2024, 5, 6), dt.date(2024, 5, 7), dt.date(2024, 5, 8)]
    assert frame["close"].tolist() == [413.54, 409.34, 410.54]


def test_yfinance_empty_frame_and_failures_are_one_line():
    empty = YFinanceSource(lambda *_: pd.DataFrame(columns=["Open", "High", "Low", "Close", "Volume"]))
    with pytest.raises(SourceError, match="no data for 'XXXX'.*unknown or delisted"):
        empty.fetch("XXXX", dt.date(2024, 5, 6), dt.date(2024, 5, 9), TODAY)

    def broken(*_):
        raise json.JSONDecodeError("Expecting value", "<html>", 0)

    with pytest.raises(SourceError, match=r"yfinance: request for 'MSFT' failed \(JSONDecodeError\)"):
        YFinanceSource(broken).fetch("MSFT", dt.date(2024, 5, 6), dt.date(2024, 5, 9), TODAY)
