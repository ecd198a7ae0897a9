"""Source selection on the CLI: a live source without a universe or without its key is one clear line."""

from __future__ import annotations

import pytest

from portfolio_dagster.cli import main


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--source", "alpha_vantage"], "the alpha_vantage source needs a universe: --tickers"),
        (["--source", "finnhub", "--tickers", "AAPL"], "set the environment variable FINNHUB_API_KEY"),
        (
            ["--source", "alpha_vantage", "--tickers", "AAPL"],
            "set the environment variable ALPHA_VANTAGE_API_KEY",
        ),
    ],
)
def test_live_source_mistakes_are_one_line_before_any_run(pmx_home, capsys, monkeypatch, args, expected):
    monkeypatch.delenv("FINNHUB_API_KEY", raising=False)
    monkeypatch.delenv("ALPHA_VANTAGE_API_KEY", raising=False)
    code = main(["run", *args])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and expected in err
    assert not (pmx_home / "warehouse.duckdb").exists()
