"""Sources deliver splits and cash dividends beside their prices, tested on responses in the providers'
documented formats (NVDA's 10:1 split, ex-date 2024-06-10, and its $0.01 dividend, ex-date 2024-06-11;
prices approximate): yfinance's Ticker.history(actions=True) columns Dividends and Stock Splits, Alpha
Vantage's TIME_SERIES_DAILY_ADJUSTED "7. dividend amount" and "8. split coefficient"; the live asset
records them in corporate_actions under the source's name."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml
import yfinance

from portfolio_dagster.assets.raw_prices import raw_prices_yfinance
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.provider_keys import ProviderKeys
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import alpha_vantage
from portfolio_dagster.resources.sources import yfinance as yf_source
from portfolio_dagster.resources.sources.actions import split_actions
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


class FakeTicker:
    """yfinance.Ticker at the network edge: the recorded NVDA history for any symbol."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def history(self, start, end, interval, auto_adjust, actions):
        assert interval == "1d" and auto_adjust and actions
        return _yahoo_frame()


def test_live_asset_records_the_actions_in_corporate_actions(tmp_path, monkeypatch):
    monkeypatch.setattr(yfinance, "Ticker", FakeTicker)
    cfg = load_config(ROOT / "config" / "live.yaml").model_dump(mode="json")
    cfg["data"]["sources"], cfg["data"]["tickers"] = ["yfinance"], ["NVDA"]
    cfg["data"]["live"].update(cache_dir=None, overlap_days=0, requests_per_minute={"yfinance": 0.0})
    config = tmp_path / "live.yaml"
    config.write_text(yaml.safe_dump(cfg))
    wh = Warehouse(path=str(tmp_path / "wh.duckdb"))
    result = dg.materialize(
        [raw_prices_yfinance],
        resources={
            "settings": PipelineSettings(config_path=str(config)),
            "warehouse": wh,
            "provider_keys": ProviderKeys(),
        },
        tags={
            "dagster/asset_partition_range_start": "2024-06-05",
            "dagster/asset_partition_range_end": "2024-06-12",
        },
    )
    assert result.success
    stored = wh.query("SELECT * FROM corporate_actions WHERE ticker = 'NVDA'")
    assert _rows(stored) == EXPECTED and set(stored["source"]) == {"yfinance"}
    assert "split_ratio" not in wh.query("SELECT * FROM raw_prices_yfinance LIMIT 1").columns
