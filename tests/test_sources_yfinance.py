"""yfinance under the shared throttle, on a recorded response (no network): a 429 is retried with backoff,
a second run reads the disk cache, refusals are one line, anything unexpected raises; the live asset
fetches the universe, the benchmark and the safe sleeve alike."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml
import yfinance
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError

from portfolio_dagster.assets.raw_prices import raw_prices_yfinance
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.provider_keys import ProviderKeys
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import SourceError
from portfolio_dagster.resources.sources.throttle import Throttle
from portfolio_dagster.resources.sources.yfinance import YFinanceSource
from portfolio_dagster.resources.warehouse import Warehouse
from tests.test_sources_live import FakeClock

RECORDED = Path(__file__).parent / "recorded"
ROOT = Path(__file__).resolve().parents[1]
TODAY = dt.date(2024, 5, 13)
START, END = dt.date(2024, 5, 6), dt.date(2024, 5, 9)


def recorded_history() -> pd.DataFrame:
    """Ticker.history's frame as yfinance returns it: exchange-local timestamps, capitalized columns."""
    frame = pd.read_csv(RECORDED / "yfinance_history_msft.csv")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("Date"), utc=True)).tz_convert("America/New_York")
    return frame


class Yahoo:
    """The network edge: answers from a script (exceptions are raised), then the recorded frame."""

    def __init__(self, *script: BaseException) -> None:
        self.script = list(script)
        self.calls: list[tuple] = []

    def __call__(self, symbol, start, end):
        self.calls.append((symbol, start, end))
        if self.script:
            raise self.script.pop(0)
        return recorded_history()


def source(yahoo: Yahoo, cache: Path | None, rpm: float = 0.0, retries: int = 3):
    clock = FakeClock()
    throttle = Throttle(
        "yfinance", cache, rpm, max_retries=retries, backoff_seconds=1.0, sleep=clock.sleep, clock=clock
    )
    return YFinanceSource(yahoo, throttle), throttle, clock


def test_a_429_is_retried_with_backoff_and_the_second_run_reads_the_cache(tmp_path):
    yahoo = Yahoo(YFRateLimitError(), YFRateLimitError())
    first, _, clock = source(yahoo, tmp_path)
    a = first.fetch("MSFT", START, END, TODAY)
    assert len(yahoo.calls) == 3 and clock.sleeps == [1.0, 2.0]
    assert list(a["date"]) == [dt.date(2024, 5, 6), dt.date(2024, 5, 7), dt.date(2024, 5, 8)]
    assert a["close"].tolist() == [413.54, 409.34, 410.54]

    second, throttle, _ = source(yahoo, tmp_path)  # a re-run: a new source on the same cache
    b = second.fetch("MSFT", START, END, TODAY)
    assert len(yahoo.calls) == 3 and throttle.requests_sent == 0
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert len(list((tmp_path / "yfinance").glob("*.json"))) == 1


def test_a_range_reaching_today_is_not_cached(tmp_path):
    yahoo = Yahoo()
    for _ in range(2):
        source(yahoo, tmp_path)[0].fetch("MSFT", START, END, today=dt.date(2024, 5, 8))
    assert len(yahoo.calls) == 2 and not list(tmp_path.rglob("*.json"))


def test_rate_limit_spaces_the_requests(tmp_path):
    yahoo = Yahoo()
    src, _, clock = source(yahoo, None, rpm=30.0)  # one request per 2 s
    for ticker in ("MSFT", "SPY", "BIL"):
        src.fetch(ticker, START, END, TODAY)
    assert clock.sleeps == [pytest.approx(2.0), pytest.approx(2.0)]


def test_retries_exhausted_on_a_dropped_connection_is_one_line():
    import requests

    yahoo = Yahoo(*[requests.exceptions.ConnectionError("https://query2.finance.yahoo.com/?crumb=x")] * 3)
    src, _, clock = source(yahoo, None, retries=2)
    with pytest.raises(SourceError) as err:
        src.fetch("MSFT", START, END, TODAY)
    assert str(err.value) == "yfinance: connection failed (ConnectionError) after 3 attempts"
    assert clock.sleeps == [1.0, 2.0]


def test_refusals_are_one_line_and_not_retried():
    yahoo = Yahoo(YFPricesMissingError("XXXX", ""))
    src, _, clock = source(yahoo, None)
    with pytest.raises(
        SourceError, match=r"no data for 'XXXX' in 2024-05-06..2024-05-08: unknown or delisted"
    ):
        src.fetch("XXXX", START, END, TODAY)
    assert len(yahoo.calls) == 1 and clock.sleeps == []


def test_an_unexpected_error_is_not_swallowed():
    # A bug (ours or the library's) must surface with its traceback, not as "the source failed".
    src, _, _ = source(Yahoo(KeyError("chart")), None)
    with pytest.raises(KeyError):
        src.fetch("MSFT", START, END, TODAY)


class FakeTicker:
    """yfinance.Ticker at the network edge: the recorded history for any symbol."""

    symbols: list[str] = []

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def history(self, start, end, interval, auto_adjust, actions):
        assert interval == "1d" and auto_adjust and actions
        FakeTicker.symbols.append(self.symbol)
        return recorded_history()


def test_live_asset_fetches_universe_benchmark_and_safe_sleeve_then_reads_its_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    FakeTicker.symbols = []
    cfg = load_config(ROOT / "config" / "live.yaml").model_dump(mode="json")
    cfg["data"]["sources"] = ["yfinance"]
    cfg["data"]["tickers"] = ["MSFT", "AAPL"]
    cfg["data"]["live"].update(
        cache_dir=str(tmp_path / "cache"), overlap_days=0, requests_per_minute={"yfinance": 0.0}
    )
    config = tmp_path / "live.yaml"
    config.write_text(yaml.safe_dump(cfg))
    resources = {
        "settings": PipelineSettings(config_path=str(config)),
        "warehouse": Warehouse(path=str(tmp_path / "wh.duckdb")),
        "provider_keys": ProviderKeys(),
    }
    tags = {
        "dagster/asset_partition_range_start": "2024-05-06",
        "dagster/asset_partition_range_end": "2024-05-08",
    }
    for _ in range(2):
        result = dg.materialize([raw_prices_yfinance], resources=resources, tags=tags)
        assert result.success
    # The first run asked Yahoo for every instrument once; the second was served by the cache.
    assert sorted(FakeTicker.symbols) == ["AAPL", "BIL", "MSFT", "SPY", "TLT"]
    stored = resources["warehouse"].query(
        "SELECT ticker, count(*) AS n FROM raw_prices_yfinance GROUP BY ticker"
    )
    assert dict(zip(stored["ticker"], stored["n"], strict=True)) == {
        t: 3 for t in ("AAPL", "BIL", "MSFT", "SPY", "TLT")
    }


def test_a_non_json_answer_is_one_line():
    import json

    src, _, _ = source(Yahoo(json.JSONDecodeError("Expecting value", "<html>", 0)), None)
    with pytest.raises(SourceError, match=r"^yfinance: request for 'MSFT' failed \(JSONDecodeError\)$"):
        src.fetch("MSFT", START, END, TODAY)
