"""Helpers for tests that run the real pipeline through Dagster on small slices of the sample."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from portfolio_dagster.cli import main
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.sources import sample_prices, sample_safe_assets

SLICE_TICKERS = ("AAPL", "JNJ", "KO", "MSFT", "XOM")
SLICE_START, SLICE_END = "1995-01-03", "1999-12-31"
CONTRACT_TABLES = (
    "prices",
    "features",
    "targets",
    "model_registry",
    "forecasts",
    "regimes",
    "risk_forecasts",
    "signals",
    "allocations",
    "backtest_daily",
    "backtest_summary",
)


def small_config(path: Path) -> Path:
    """The default config shrunk so a 5-year slice trains and backtests in seconds."""
    cfg = load_config().model_dump(mode="json")
    cfg["models"].update(min_train_days=250, lightgbm=cfg["models"]["lightgbm"] | {"n_estimators": 20})
    cfg["backtest"]["start"] = "1998-01-02"
    path.write_text(yaml.safe_dump(cfg))
    return path


def sample_slice_csv(path: Path) -> Path:
    """Real sample prices for the slice, written in the CSV source's format."""
    # The safe sleeve's series too: pmx run stops before any stage when one is absent from the data.
    px = pd.concat([sample_prices("SP500"), sample_safe_assets()], ignore_index=True)
    px = px[px["ticker"].isin([*SLICE_TICKERS, "SP500", *load_config().strategy.safe_assets])]
    px = px[(px["date"] >= pd.Timestamp(SLICE_START).date()) & (px["date"] <= pd.Timestamp(SLICE_END).date())]
    px[["date", "ticker", "close"]].to_csv(path, index=False)
    return path


def run_cli(home: Path, *args: str) -> int:
    os.environ["PMX_HOME"] = str(home)
    # The instance of this home (pmx exports DAGSTER_HOME for its runs; one left by an earlier run in
    # this test process would otherwise take precedence over PMX_HOME's).
    os.environ.pop("DAGSTER_HOME", None)
    return main(["run", *args])


def read_table(warehouse: Path, table: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table}").df()
    finally:
        con.close()


def most_steps_at_once(instance, run_id: str, prefix: str) -> tuple[int, set[int]]:
    """(the most steps named `prefix`... of a run launched and not yet ended at one time, the pids their
    STEP_START events came from): from the run's stored events in order (STEP_WORKER_STARTING: the
    multiprocess executor launching a step's process; STEP_SUCCESS/FAILURE: its end)."""
    running, most, pids = 0, 0, set()
    for record in instance.get_records_for_run(run_id, limit=100000).records:
        event = record.event_log_entry.dagster_event
        if event is None or not (event.step_key or "").startswith(prefix):
            continue
        kind = event.event_type_value
        if kind == "STEP_WORKER_STARTING":
            running += 1
            most = max(most, running)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            running -= 1
        elif kind == "STEP_START":
            pids.add(event.pid)
    return most, pids
