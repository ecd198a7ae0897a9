"""Sources deliver splits and cash dividends beside their prices, tested on responses in the providers'
documented formats (NVDA's 10:1 split, ex-date 2024-06-10, and its $0.01 dividend, ex-date 2024-06-11;
prices approximate): yfinance's Ticker.history(actions=True) columns Dividends and Stock Splits, Alpha
Vantage's TIME_SERIES_DAILY_ADJUSTED "7. dividend amount" and "8. split coefficient", Finnhub's /stock/split
(fromFactor old shares became toFactor new ones; faked with respx at the network edge); the live asset
records them in corporate_actions under the source's name."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest
import respx
import yaml
import yfinance

from portfolio_dagster.assets.raw_prices import raw_prices_finnhub, raw_prices_yfinance
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.provider_keys import ProviderKeys
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import SourceError, alpha_vantage, finnhub
from portfolio_dagster.resources.sources import yfinance as yf_source
from portfolio_dagster.resources.sources.actions import split_actions
from portfolio_dagster.resources.sources.finnhub import FinnhubSource
from portfolio_dagster.resources.sources.http import HttpClient
from portfolio_dagster.resources.warehouse import Warehouse

RECORDED = Path(__file__).parent / "recorded"
ROOT = Path(__file__).resolve().parents[1]
EXPECTED = [
    ("NVDA", dt.date(2024, 6, 10), "split", 10.0, None),
    ("NVDA", dt.date(2024, 6, 11), "dividend", None, 0.01),
]


def _rows(actions: pd.DataFrame) -> list[tuple]:
    out = []
    for r in actions.sort_values(["date", "kind"]).itertuples(index=False):
        ratio = None if pd.isna(r.ratio) else float(r.ratio)
        amount = None if pd.isna(r.amount) else float(r.amount)
        out.append((r.ticker, pd.Timestamp(r.date).date(), r.kind, ratio, amount))
    return out


def _yahoo_frame() -> pd.DataFrame:
    frame = pd.read_csv(RECORDED / "yfinance_history_nvda_split.csv")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("Date"), utc=True)).tz_convert("America/New_York")
    return frame


def test_yfinance_actions_are_parsed():
    prices, actions = split_actions(yf_source.parse(_yahoo_frame(), "NVDA"))
    assert _rows(actions) == EXPECTED
    assert list(prices.columns) == ["ticker", "date", "open", "high", "low", "close", "volume"]


def test_alpha_vantage_split_coefficient_and_dividend_amount_are_parsed():
    body = json.loads((RECORDED / "alpha_vantage_daily_adjusted_nvda_split.json").read_text())
    prices, actions = split_actions(alpha_vantage.parse(body, "NVDA"))
    assert _rows(actions) == EXPECTED
    # Prices are on the adjusted basis: no -90% day at the split.
    close = prices.sort_values("date")["close"].to_numpy()
    assert (abs(close[1:] / close[:-1] - 1) < 0.1).all()
    # The IBM response's one dividend (ex-date 2024-05-09, $1.67) is found too.
    ibm = json.loads((RECORDED / "alpha_vantage_daily_adjusted_ibm.json").read_text())
    _, ibm_actions = split_actions(alpha_vantage.parse(ibm, "IBM"))
    assert ("IBM", dt.date(2024, 5, 9), "dividend", None, 1.67) in _rows(ibm_actions)


def _finnhub_routes():
    """Finnhub at the network edge: the recorded NVDA candles for any symbol, NVDA's split for NVDA only."""
    candles = respx.get(finnhub.URL).mock(
        return_value=httpx.Response(200, text=(RECORDED / "finnhub_candle_nvda_split.json").read_text())
    )
    nvda = (RECORDED / "finnhub_split_nvda.json").read_text()
    splits = respx.get(finnhub.SPLIT_URL).mock(
        side_effect=lambda request: httpx.Response(
            200, text=nvda if request.url.params["symbol"] == "NVDA" else "[]"
        )
    )
    return candles, splits


@respx.mock
def test_finnhub_splits_come_from_a_second_request_per_ticker():
    candles, splits = _finnhub_routes()
    source = FinnhubSource(HttpClient("finnhub", None, 0.0, max_retries=0), "KEY")
    frame = source.fetch("NVDA", dt.date(2024, 6, 5), dt.date(2024, 6, 13), dt.date(2024, 6, 13))
    prices, actions = split_actions(frame)
    assert _rows(actions) == EXPECTED[:1]  # Finnhub's split endpoint has no dividends
    assert len(prices) == 6 and list(prices.columns) == [
        "ticker",
        "date",
        "open",
        "high",
        "low",
        "close",
        "volume",
    ]
    assert candles.call_count == 1 and splits.call_count == 1
    sent = splits.calls[0].request.url.params
    assert (sent["symbol"], sent["from"], sent["to"], sent["token"]) == (
        "NVDA",
        "2024-06-05",
        "2024-06-12",
        "KEY",
    )
    # A split after the last candle (its session not fetched yet) is left to the run that fetches it.
    _, later = split_actions(
        source.fetch("NVDA", dt.date(2024, 6, 5), dt.date(2024, 6, 8), dt.date(2024, 6, 13))
    )
    assert later.empty


@respx.mock
@pytest.mark.parametrize(
    "body, expected",
    [
        ({"error": "API limit reached. Please try again later. Remaining Limit: 0"}, "API limit reached"),
        ({"error": "You don't have access to this resource."}, "plan has no access"),
        ({"s": "ok"}, "an object, not a list"),
        ([{"symbol": "NVDA", "date": "2024-06-10", "fromFactor": 0, "toFactor": 10}], "unreadable split"),
        ([{"symbol": "NVDA", "date": "10/06/2024", "fromFactor": 1, "toFactor": 10}], "unreadable split"),
    ],
)
def test_finnhub_split_error_shapes_are_one_line(body, expected):
    respx.get(finnhub.URL).mock(
        return_value=httpx.Response(200, text=(RECORDED / "finnhub_candle_nvda_split.json").read_text())
    )
    respx.get(finnhub.SPLIT_URL).mock(return_value=httpx.Response(200, json=body))
    source = FinnhubSource(HttpClient("finnhub", None, 0.0, max_retries=0), "KEY")
    with pytest.raises(SourceError, match=expected) as err:
        source.fetch("NVDA", dt.date(2024, 6, 5), dt.date(2024, 6, 13), dt.date(2024, 6, 13))
    assert "\n" not in str(err.value) and "KEY" not in str(err.value)


def _live(tmp_path, overlap_days, source="yfinance"):
    """The resources of a live run: config/live.yaml narrowed to NVDA from `source`, no cache, no
    throttle, `overlap_days` refetched."""
    cfg = load_config(ROOT / "config" / "live.yaml").model_dump(mode="json")
    cfg["data"]["sources"], cfg["data"]["tickers"] = [source], ["NVDA"]
    cfg["data"]["live"].update(cache_dir=None, overlap_days=overlap_days, requests_per_minute={source: 0.0})
    config = tmp_path / f"live_{source}{overlap_days}.yaml"
    config.write_text(yaml.safe_dump(cfg))
    return {"settings": PipelineSettings(config_path=str(config)), "provider_keys": ProviderKeys()}


def _materialize(resources, wh, start, end, asset=raw_prices_yfinance, raise_on_error=False):
    """`asset` over the daily partitions start..end, as one ranged run."""
    return dg.materialize(
        [asset],
        resources={**resources, "warehouse": wh},
        tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        raise_on_error=raise_on_error,
    )


@respx.mock
def test_live_finnhub_asset_records_its_splits_in_corporate_actions(tmp_path, monkeypatch):
    monkeypatch.setenv("FINNHUB_API_KEY", "KEY")
    _finnhub_routes()
    wh = Warehouse(path=str(tmp_path / "wh.duckdb"))
    resources = _live(tmp_path, 0, source="finnhub")
    result = _materialize(resources, wh, "2024-06-05", "2024-06-12", raw_prices_finnhub, raise_on_error=True)
    assert result.success
    stored = wh.query("SELECT * FROM corporate_actions")
    assert _rows(stored) == EXPECTED[:1] and set(stored["source"]) == {"finnhub"}
    assert "split_ratio" not in wh.query("SELECT * FROM raw_prices_finnhub LIMIT 1").columns


class FakeTicker:
    """yfinance.Ticker at the network edge: the recorded NVDA history for any symbol."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def history(self, start, end, interval, auto_adjust, actions):
        assert interval == "1d" and auto_adjust and actions
        return _yahoo_frame()


def test_live_asset_records_the_actions_in_corporate_actions(tmp_path, monkeypatch):
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    wh = Warehouse(path=str(tmp_path / "wh.duckdb"))
    assert _materialize(_live(tmp_path, 0), wh, "2024-06-05", "2024-06-12", raise_on_error=True).success
    stored = wh.query("SELECT * FROM corporate_actions WHERE ticker = 'NVDA'")
    assert _rows(stored) == EXPECTED and set(stored["source"]) == {"yfinance"}
    assert "split_ratio" not in wh.query("SELECT * FROM raw_prices_yfinance LIMIT 1").columns


class RestatingTicker:
    """Yahoo before and after the split: until `restated`, the history on the pre-split basis (rows before
    the ex-date x10), then the recorded back-adjusted one; `broken` changes one day only."""

    restated = False
    broken = False

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def history(self, start, end, interval, auto_adjust, actions):
        frame = _yahoo_frame()
        day = frame.index.tz_localize(None).normalize()
        frame = frame[(day >= pd.Timestamp(start)) & (day < pd.Timestamp(end))].copy()
        day = frame.index.tz_localize(None).normalize()
        if not RestatingTicker.restated:
            frame.loc[day < pd.Timestamp("2024-06-10"), ["Open", "High", "Low", "Close"]] *= 10
            frame.loc[:, "Stock Splits"] = 0.0
        if RestatingTicker.broken:
            frame.loc[day == pd.Timestamp("2024-06-07"), "Close"] *= 1.05
        return frame


def test_a_restated_history_is_rebased_and_recorded_never_stitched(tmp_path, monkeypatch):
    monkeypatch.setattr(yfinance, "Ticker", RestatingTicker)
    RestatingTicker.restated, RestatingTicker.broken = False, False
    wh = Warehouse(path=str(tmp_path / "wh.duckdb"))
    assert _materialize(_live(tmp_path, 0), wh, "2024-06-05", "2024-06-07").success
    RestatingTicker.restated = True
    # The daily run of the ex-date refetches one session before it: its overlap is on the new basis.
    assert _materialize(_live(tmp_path, 2), wh, "2024-06-10", "2024-06-12").success
    stored = wh.query("SELECT date, close FROM raw_prices_yfinance WHERE ticker = 'NVDA' ORDER BY date")
    close = stored["close"].to_numpy()
    assert (abs(close[1:] / close[:-1] - 1) < 0.1).all()  # no -90% day
    assert abs(close[0] - 122.44) < 1e-9  # 06-05, outside the refetch, re-based
    actions = wh.query("SELECT * FROM corporate_actions WHERE ticker = 'NVDA' ORDER BY date, kind")
    restatement = actions[actions["kind"] == "restatement"]
    assert len(restatement) == 1 and abs(restatement["ratio"].iat[0] - 0.1) < 1e-6
    assert str(pd.Timestamp(restatement["date"].iat[0]).date()) == "2024-06-10"
    assert set(actions["kind"]) == {"restatement", "split", "dividend"}

    RestatingTicker.broken = True
    result = _materialize(_live(tmp_path, 3), wh, "2024-06-12", "2024-06-12")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message.strip()
    # Every symbol gets the fake answer: the first one (BIL) is named, with the dates that changed.
    assert "data error, not stored: BIL: the refetched closes of 2024-06-07..2024-06-07" in message
    assert "no common factor" in message
    assert len(message.splitlines()) == 1
