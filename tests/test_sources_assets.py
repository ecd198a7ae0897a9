"""raw_prices_* and prices materialized by Dagster over a real DuckDB warehouse: the sample with its safe
sleeve, a CSV full of bad rows, a live source on recorded responses, holidays, incremental ranges, checks."""

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

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.assets.raw_prices import raw_prices_alpha_vantage, raw_prices_csv, raw_prices_sample
from portfolio_dagster.checks.market_data import (
    prices_no_missing_days,
    prices_no_suspicious_jumps,
    prices_sources_agree,
)
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.provider_keys import ProviderKeys
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import alpha_vantage
from portfolio_dagster.resources.warehouse import Warehouse

RECORDED = Path(__file__).parent / "recorded"
SECRET = "AV-SECRET-987"


def setup(root: Path, **data) -> tuple[dict, Warehouse]:
    cfg = load_config().model_dump(mode="json")
    cfg["data"]["live"]["overlap_days"] = data.pop("overlap_days", 5)
    cfg["data"].update(data)
    cfg["data"]["live"]["cache_dir"] = str(root / "cache")
    cfg["data"]["live"]["requests_per_minute"] = {"alpha_vantage": 0.0}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    return {
        "settings": PipelineSettings(config_path=str(path)),
        "warehouse": warehouse,
        "provider_keys": ProviderKeys(),
    }, warehouse


def run(assets, resources, first: str, last: str, checks=()) -> dg.ExecuteInProcessResult:
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return dg.materialize([*assets, *checks], resources=resources, tags=tags, raise_on_error=False)


MARKET_DATA_CHECKS = (prices_no_missing_days.on(), prices_sources_agree, prices_no_suspicious_jumps.on())


def metadata(result, asset) -> dict:
    mat = result.asset_materializations_for_node(asset.op.name)[0]
    return {k: v.value for k, v in mat.metadata.items()}


def test_sample_range_with_holiday_and_safe_sleeve(tmp_path):
    resources, wh = setup(tmp_path, tickers=["AAPL", "KO"])
    # 2018-11-19..2018-12-07: Thanksgiving (11-22) and the Bush day of mourning (12-05) are not sessions;
    # CASH ends 2018-11-30 inside the range.
    result = run([raw_prices_sample, prices], resources, "2018-11-19", "2018-12-07", MARKET_DATA_CHECKS)
    assert result.success
    px = wh.query("SELECT * FROM prices ORDER BY ticker, date")
    safe = set(load_config().strategy.safe_assets) & {"CASH", "BOND"}
    assert "CASH" in safe
    assert set(px["ticker"]) == {"AAPL", "KO", "SP500", *safe}
    days = set(pd.to_datetime(px["date"]).dt.date)
    assert dt.date(2018, 11, 22) not in days and dt.date(2018, 12, 5) not in days
    cash = px[px["ticker"] == "CASH"]
    assert pd.to_datetime(cash["date"]).max().date() == dt.date(2018, 11, 30)
    assert (cash["close"].diff().dropna() > 0).all()
    rejected = wh.query("SELECT * FROM rejected_prices")
    assert rejected.empty  # the sample delivers only the universe, benchmark and safe sleeve
    meta = metadata(result, prices)
    assert meta["raw_rows"] == meta["rows"] + meta["rejected_rows"] + meta["merged_away"]
    raw_meta = metadata(result, raw_prices_sample)
    assert "CASH" in raw_meta["series_ended_before_window_end"]
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["prices_no_missing_days"] and checks["prices_no_suspicious_jumps"]


def test_a_holiday_partition_is_empty_and_valid(tmp_path):
    resources, wh = setup(tmp_path)
    result = run([raw_prices_sample, prices], resources, "2019-07-04", "2019-07-04", MARKET_DATA_CHECKS)
    assert result.success
    assert wh.query("SELECT count(*) AS n FROM prices")["n"].iat[0] == 0
    assert metadata(result, prices)["rows"] == 0


def test_csv_bad_rows_are_quarantined_and_sql_stays_data(tmp_path):
    lines = [
        "date,ticker,close,open,high,low,volume",
        "2024-06-03,AAA,10,10,11,9,100",
        "2024-06-04,AAA,nan,10,11,9,100",  # NaN
        "2024-06-05,AAA,inf,10,11,9,100",  # inf
        "2024-06-06,AAA,0,10,11,9,100",  # zero
        "2024-06-07,AAA,-2,10,11,9,100",  # negative
        "2024-06-03,BBB,20,20,21,19,100",
        "2024-06-03,BBB,21,20,21,19,100",  # duplicate key, different value
        "2024-06-08,BBB,20,20,21,19,100",  # weekend
        "2024-06-19,BBB,20,20,21,19,100",  # Juneteenth
        '2024-06-05,"x\'); DROP TABLE prices; --",5,5,5,5,1',
        '2024-06-04,"O\'NEIL;",7,7,7,7,1',
        "2024-06-04,CCC,7,7,7,7,1",  # unsorted
        "2024-06-03,CCC,7,7,7,7,1",
    ]
    csv = tmp_path / "px.csv"
    csv.write_text("\n".join(lines) + "\n")
    resources, wh = setup(tmp_path, sources=["csv"], csv_path=str(csv))
    result = run([raw_prices_csv, prices], resources, "2024-06-03", "2024-06-21", MARKET_DATA_CHECKS)
    assert result.success
    px = wh.query("SELECT ticker, date, close FROM prices ORDER BY ticker, date")
    rejected = wh.query("SELECT ticker, date, reason, close FROM rejected_prices ORDER BY ticker, date")
    assert len(px) + len(rejected) == len(lines) - 1, "nothing lost"
    assert set(px["ticker"]) == {"AAA", "CCC", "x'); DROP TABLE prices; --", "O'NEIL;"}
    assert sorted(rejected["reason"]) == sorted(
        [
            "missing close",
            "non-finite close",
            "non-positive close",
            "non-positive close",
            "duplicate key with different values",
            "duplicate key with different values",
            "weekend date",
            "not an XNYS trading day",
        ]
    )
    # AAA has rows only on 06-03 in prices but sessions 06-04..06-07 inside its span are not missing:
    # its last row is 06-03. BBB is entirely rejected. The check passes on what is stored.
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["prices_no_missing_days"]


def test_missing_day_for_a_universe_ticker_fails_the_check(tmp_path):
    csv = tmp_path / "px.csv"
    csv.write_text(
        "date,ticker,close\n2024-06-03,AAA,10\n2024-06-05,AAA,10.1\n2024-06-03,BBB,5\n"
        "2024-06-04,BBB,5\n2024-06-05,BBB,5\n"
    )
    resources, _ = setup(tmp_path, sources=["csv"], csv_path=str(csv), tickers=["AAA", "BBB"])
    result = run([raw_prices_csv, prices], resources, "2024-06-03", "2024-06-05", MARKET_DATA_CHECKS)
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["prices_no_missing_days"]
    assert not check.passed and check.metadata["missing"].value == 1


@respx.mock
def test_live_source_fetches_only_its_range_plus_overlap_and_fills_from_the_next_source(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", SECRET)
    route = respx.get(alpha_vantage.URL).mock(
        return_value=httpx.Response(
            200, text=(RECORDED / "alpha_vantage_daily_adjusted_ibm.json").read_text()
        )
    )
    csv = tmp_path / "px.csv"
    # The CSV (second source) has 2024-05-10 for IBM that AV also has, plus 05-06 AV lacks: a fill.
    csv.write_text("date,ticker,close\n2024-05-10,IBM,170.0\n2024-05-06,IBM,165.0\n")
    resources, wh = setup(
        tmp_path,
        sources=["alpha_vantage", "csv"],
        csv_path=str(csv),
        tickers=["IBM"],
        benchmark="IBM",
        overlap_days=3,
    )
    # A live source fetches the universe, the benchmark and the safe sleeve: make them all IBM, one request.
    config_path = Path(resources["settings"].config_path)
    config_path.write_text(
        yaml.safe_dump(yaml.safe_load(config_path.read_text()) | {"strategy": {"safe_assets": ["IBM"]}})
    )
    result = run(
        [raw_prices_alpha_vantage, raw_prices_csv, prices],
        resources,
        "2024-05-10",
        "2024-05-10",
        MARKET_DATA_CHECKS,
    )
    assert result.success
    assert route.call_count == 1
    raw = wh.query("SELECT date FROM raw_prices_alpha_vantage ORDER BY date")
    # Partition 05-10 with 3 trading days of overlap: 05-07..05-10 fetched and stored, nothing older.
    assert list(pd.to_datetime(raw["date"]).dt.day) == [7, 8, 9, 10]
    assert metadata(result, raw_prices_alpha_vantage)["fetched_from"] == "2024-05-07"
    px = wh.query("SELECT date, close, source, n_sources, disagreement FROM prices ORDER BY date")
    assert list(px["source"]) == ["alpha_vantage"]  # prices covers the partition only
    assert px["n_sources"].iat[0] == 2 and px["disagreement"].iat[0] == pytest.approx((170 - 167.15) / 167.15)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert not checks["prices_sources_agree"]
    events = json.dumps([str(e) for e in result.all_events])
    assert SECRET not in events


def test_live_source_without_a_key_is_one_clear_failure(tmp_path, monkeypatch):
    monkeypatch.delenv("ALPHA_VANTAGE_API_KEY", raising=False)
    resources, _ = setup(tmp_path, sources=["alpha_vantage"], tickers=["IBM"])
    result = run([raw_prices_alpha_vantage], resources, "2024-05-10", "2024-05-10")
    assert not result.success
    failure = [e for e in result.all_events if e.is_step_failure][0]
    assert "set the environment variable ALPHA_VANTAGE_API_KEY" in failure.step_failure_data.error.message


@respx.mock
def test_a_failing_live_source_falls_back_to_the_next_without_failing_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", SECRET)
    route = respx.get(alpha_vantage.URL).mock(return_value=httpx.Response(503, text="<html>down</html>"))
    csv = tmp_path / "px.csv"
    csv.write_text("date,ticker,close\n2024-05-09,IBM,168.0\n2024-05-10,IBM,170.0\n")
    resources, wh = setup(
        tmp_path,
        sources=["alpha_vantage", "csv"],
        csv_path=str(csv),
        tickers=["IBM"],
        benchmark="IBM",
        overlap_days=0,
    )
    config_path = Path(resources["settings"].config_path)
    cfg = yaml.safe_load(config_path.read_text())
    cfg["data"]["live"]["backoff_seconds"] = 0.0  # retry at once: the test is about the fallback
    config_path.write_text(yaml.safe_dump(cfg))
    result = run([raw_prices_alpha_vantage, raw_prices_csv, prices], resources, "2024-05-09", "2024-05-10")
    assert result.success
    assert route.call_count > 1  # retried before giving up
    meta = metadata(result, raw_prices_alpha_vantage)
    assert meta["rows"] == 0 and meta["fallback_to"] == "csv" and SECRET not in meta["source_failed"]
    px = wh.query("SELECT date, close, source FROM prices ORDER BY date")
    assert list(px["source"]) == ["csv", "csv"] and list(px["close"]) == [168.0, 170.0]
