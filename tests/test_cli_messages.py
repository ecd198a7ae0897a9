"""Messages name the right thing: the missing key names the source that needs it, and libraries' noise
(provider log lines, pandas FutureWarnings) goes to the data folder's log, not the terminal."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from portfolio_dagster.cli import main
from portfolio_dagster.library_log import LOG_FILE, route_library_output

LIVE = Path(__file__).resolve().parents[1] / "config" / "live.yaml"


def test_missing_key_names_the_source_that_needs_it(pmx_home, capsys, monkeypatch):
    monkeypatch.delenv("ALPHA_VANTAGE_API_KEY", raising=False)
    monkeypatch.setenv("FINNHUB_API_KEY", "k")
    assert main(["run", "--config", str(LIVE), "--end", "2025-12-31"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("pmx: error: the alpha_vantage source needs an API key")
    assert "ALPHA_VANTAGE_API_KEY" in err and "yfinance source needs" not in err
    assert len(err.splitlines()) == 1
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "k")
    monkeypatch.delenv("FINNHUB_API_KEY")
    assert main(["run", "--config", str(LIVE), "--end", "2025-12-31"]) == 1
    assert "the finnhub source needs an API key: set the environment variable FINNHUB_API_KEY" in (
        capsys.readouterr().err
    )
    assert not pmx_home.exists() or not (pmx_home / LOG_FILE).exists()


def test_library_noise_goes_to_the_log_not_the_terminal(tmp_path, capsys):
    path = route_library_output(tmp_path)
    logging.getLogger("yfinance").warning("Cookie/crumb fetch failed (DNSError), continuing without crumb")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("Downcasting object dtype arrays on .fillna is deprecated", FutureWarning, stacklevel=1)
    captured = capsys.readouterr()
    assert "crumb" not in captured.err + captured.out and "Downcasting" not in captured.err + captured.out
    text = path.read_text()
    assert "yfinance WARNING Cookie/crumb fetch failed" in text and "FutureWarning: Downcasting" in text


def test_debug_shows_library_noise_on_the_terminal_too(tmp_path, capsys):
    path = route_library_output(tmp_path, debug=True)
    logging.getLogger("yfinance").warning("rate limited")
    assert "rate limited" in capsys.readouterr().err and "rate limited" in path.read_text()
    route_library_output(tmp_path)  # back to the quiet default for the tests after this one
