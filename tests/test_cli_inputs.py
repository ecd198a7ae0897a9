"""Fail fast on inputs: a benchmark or safe-sleeve ticker absent from the data stops `pmx run` before any
stage (one line naming it, exit 1, no traceback, no warehouse); `--benchmark` picks the index."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portfolio_dagster.cli import _parser, effective_config
from portfolio_dagster.resources.sources.sample import sample_all, sample_series

ROOT = Path(__file__).resolve().parents[1]


def _csv(path: Path, tickers: tuple[str, ...]) -> Path:
    rows = ["date,ticker,close"] + [f"2021-06-{d:02d},{t},{100 + d}" for t in tickers for d in (1, 2, 3, 4)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _pmx(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PMX_HOME": str(home)}
    env.pop("PMX_CONFIG", None)
    env.pop("PMX_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-m", "portfolio_dagster.cli", "run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("tickers", "extra", "named"),
    [
        # The default benchmark SP500 is not in a CSV of stocks and the safe sleeve.
        (("AAA", "BBB", "CASH", "BOND"), [], "benchmark SP500 is not in the data"),
        # --benchmark names the index; SPY is not in the file.
        (("AAA", "SP500", "CASH", "BOND"), ["--benchmark", "SPY"], "benchmark SPY is not in the data"),
        # The benchmark is there, the cash series of the safe sleeve is not.
        (("AAA", "SP500", "BOND"), [], "safe-sleeve ticker CASH (strategy.safe_assets) is not in the data"),
    ],
)
def test_absent_benchmark_or_safe_sleeve_stops_before_any_stage(tmp_path, tickers, extra, named):
    csv = _csv(tmp_path / "prices.csv", tickers)
    home = tmp_path / "data"
    done = _pmx(
        home, "--source", "csv", "--csv", str(csv), "--start", "2021-06-01", "--end", "2021-06-04", *extra
    )
    assert done.returncode == 1
    err = done.stderr.strip()
    assert err.startswith("pmx: error: ") and named in err and str(csv) in err
    assert len(err.splitlines()) == 1 and "Traceback" not in done.stderr
    # No stage ran: nothing printed by the runner, no warehouse, no Dagster instance.
    assert "stages over" not in done.stdout and "[1/" not in done.stdout
    assert not (home / "warehouse.duckdb").exists() and not (home / "dagster_home").exists()


def _config(home: Path, monkeypatch, *args: str):
    monkeypatch.setenv("PMX_HOME", str(home))
    return effective_config(_parser().parse_args(["run", *args]))


def test_benchmark_flag_overrides_the_config_and_a_present_one_passes(tmp_path, monkeypatch):
    csv = _csv(tmp_path / "prices.csv", ("AAA", "BBB", "CASH", "BOND"))
    config = _config(
        tmp_path,
        monkeypatch,
        "--source",
        "csv",
        "--csv",
        str(csv),
        "--benchmark",
        "BBB",
        "--start",
        "2021-06-01",
        "--end",
        "2021-06-04",
    )
    assert config.data.benchmark == "BBB"
    assert _config(tmp_path, monkeypatch).data.benchmark == "SP500"  # the default: data.benchmark


def test_live_source_refuses_the_samples_synthetic_series(tmp_path, monkeypatch, capsys):
    from portfolio_dagster.cli import main

    monkeypatch.setenv("PMX_HOME", str(tmp_path))
    # Default config: benchmark SP500 and safe sleeve CASH/BOND exist only in the bundled sample.
    assert main(["run", "--source", "yfinance", "--tickers", "AAPL"]) == 1
    err = capsys.readouterr().err.strip()
    assert "SP500 is a series of the bundled sample" in err and len(err.splitlines()) == 1
    # The live config names real ETFs: it passes the input checks (its fallbacks need their keys).
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "test-key")
    monkeypatch.setenv("FINNHUB_API_KEY", "test-key")
    config = _config(
        tmp_path, monkeypatch, "--config", str(ROOT / "config" / "live.yaml"), "--end", "2024-06-28"
    )
    assert config.data.benchmark == "SPY" and config.data.sources[0] == "yfinance"


def test_sample_benchmark_may_be_one_of_its_stocks_without_a_name_clash():
    frame = sample_all("AAPL")
    assert "SP500" in set(frame["ticker"])  # the index keeps its name
    assert not frame.duplicated(["ticker", "date"]).any()
    assert {"AAPL", "SP500", "CASH", "BOND"} <= sample_series("AAPL")
    assert "SPY" in sample_series("SPY") and "SP500" not in sample_series("SPY")
