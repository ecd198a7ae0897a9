"""build_definitions builds every job, schedule and sensor from its arguments: two configs in one process
give two different sets of definitions (nothing is read from the environment at import)."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
import yaml

from portfolio_dagster.config import load_config
from portfolio_dagster.definitions import build_definitions

warnings.filterwarnings("ignore", category=dg.BetaWarning)


def _config(path: Path, sources: list[str], daily_cron: str, interval: int) -> Path:
    cfg = load_config().model_dump(mode="json")
    cfg["data"].update(sources=sources, tickers=["AAPL", "MSFT"])
    cfg["operations"].update(daily_cron=daily_cron, sensor_interval_seconds=interval)
    path.write_text(yaml.safe_dump(cfg))
    return path


def _daily_keys(defs: dg.Definitions) -> set[str]:
    job = defs.resolve_job_def("daily_job")
    return {k.to_user_string() for k in job.asset_layer.selected_asset_keys}


def test_two_configs_in_one_process_give_their_own_jobs_schedules_and_sensors(tmp_path):
    a = _config(tmp_path / "a.yaml", ["sample"], "30 17 * * 1-5", 300)
    b = _config(tmp_path / "b.yaml", ["yfinance", "finnhub"], "15 18 * * 1-5", 900)
    defs_a = build_definitions(a, tmp_path / "a.duckdb", tmp_path / "home_a")
    defs_b = build_definitions(b, tmp_path / "b.duckdb", tmp_path / "home_b")
    keys_a, keys_b = _daily_keys(defs_a), _daily_keys(defs_b)
    assert "raw_prices_sample" in keys_a and not {"raw_prices_yfinance", "raw_prices_finnhub"} & keys_a
    assert {"raw_prices_yfinance", "raw_prices_finnhub"} <= keys_b and "raw_prices_sample" not in keys_b
    assert keys_a - {"raw_prices_sample"} == keys_b - {"raw_prices_yfinance", "raw_prices_finnhub"}
    assert defs_a.resolve_schedule_def("daily_after_close").cron_schedule == "30 17 * * 1-5"
    assert defs_b.resolve_schedule_def("daily_after_close").cron_schedule == "15 18 * * 1-5"
    assert defs_a.resolve_sensor_def("forecast_decay").minimum_interval_seconds == 300
    assert defs_b.resolve_sensor_def("forecast_decay").minimum_interval_seconds == 900
