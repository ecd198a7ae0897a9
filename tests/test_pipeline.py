"""The whole graph through real Dagster runs into a real DuckDB file, on a slice of the real sample."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from pipeline_helpers import (
    CONTRACT_TABLES,
    SLICE_END,
    SLICE_START,
    SLICE_TICKERS,
    read_table,
    run_cli,
    sample_slice_csv,
    small_config,
)

from portfolio_dagster.config import load_config

PIT_CUTOFF = pd.Timestamp("1998-09-30")
# The point-in-time runs: the shortest range with forecasts on both sides of the cutoff (the yearly
# retrain of 1998, the backtest from 1998-01-02), two runs instead of two 5-year ones.
PIT_RUN = ("1995-07-03", "1999-03-31")
ORDER = ["date", "ticker"]


@pytest.fixture(scope="module")
def slice_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("pipeline")
    home = root / "data"
    config = small_config(root / "config.yaml")
    code = run_cli(
        home,
        "--config",
        str(config),
        "--tickers",
        ",".join(SLICE_TICKERS),
        "--start",
        SLICE_START,
        "--end",
        SLICE_END,
    )
    assert code == 0
    tables = {t: read_table(home / "warehouse.duckdb", t) for t in CONTRACT_TABLES}
    return {"root": root, "home": home, "config": config, "tables": tables}


def test_every_contract_table_has_rows(slice_run):
    for table, frame in slice_run["tables"].items():
        assert len(frame) > 0, table
    prices = slice_run["tables"]["prices"]
    # The sample also delivers the safe sleeve's series (CASH, BOND) named in strategy.safe_assets.
    assert set(prices["ticker"]) == {*SLICE_TICKERS, "SP500", *load_config().strategy.safe_assets}
    assert not prices.duplicated(["ticker", "date"]).any()


def test_runs_are_recorded_in_the_persistent_instance(slice_run, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(slice_run["home"] / "dagster_home"))
    instance = dg.DagsterInstance.get()
    runs = instance.get_runs()
    # Six runs: market history (years), market days, models, decision history, decision days, evaluation.
    assert len(runs) == 6 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    ranged = [r for r in runs if r.tags.get("dagster/asset_partition_range_start")]
    assert ranged, "partitioned stages run as single-run backfills over the range"


def test_the_ui_shows_every_daily_partition_as_materialized(slice_run, monkeypatch):
    """What `pmx ui` reads after the run: the definitions' daily assets begin at the range's last week,
    every daily partition up to the run's last session is materialized (none before it shows as
    missing: the history is in the `_history` twins, whose years show materialized)."""
    from portfolio_dagster.definitions import build_definitions
    from portfolio_dagster.pipeline_runner import stages

    home = slice_run["home"]
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    config_path = home / "config.effective.yaml"
    defs = build_definitions(config_path, home / "warehouse.duckdb", home)
    instance = dg.DagsterInstance.get()
    last_week = list(pd.bdate_range(end=SLICE_END, periods=5).strftime("%Y-%m-%d"))
    run_end = pd.Timestamp(SLICE_END) + pd.Timedelta(days=1)
    daily = [a.key for a in stages(load_config(config_path)) if a.partitions_def is not None]
    assert len(daily) >= 6
    for key in daily:
        partitions = defs.resolve_assets_def(key).partitions_def
        assert partitions.get_partition_keys(current_time=run_end) == last_week, key
        assert set(last_week) <= instance.get_materialized_partitions(key), key
        twin = dg.AssetKey(f"{key.to_user_string()}_history")
        assert "1999" in instance.get_materialized_partitions(twin), twin
    # A session before the daily partitions cannot be asked for: the yearly twins hold it.
    assert not defs.resolve_assets_def(daily[0]).partitions_def.has_partition_key("1999-12-24")


def test_allocations_are_valid_and_forecasts_follow_the_purge(slice_run):
    t = slice_run["tables"]
    alloc = t["allocations"]
    assert np.allclose(alloc.groupby("date")["weight"].sum(), 1.0)
    assert (alloc["weight"] >= 0).all() and (alloc[alloc.sleeve == "risky"]["weight"] <= 0.10 + 1e-12).all()
    reg = t["model_registry"]
    fc = t["forecasts"].merge(
        reg[["model_id", "valid_from", "train_end", "horizon"]], on=["model_id", "horizon"]
    )
    assert (pd.to_datetime(fc["valid_from"]) <= pd.to_datetime(fc["date"])).all()
    assert (pd.to_datetime(reg["train_end"]) < pd.to_datetime(reg["valid_from"])).all()
    assert set(fc["model"]) == {"lightgbm", "xgboost", "bayesian_ridge", "regime_adaptive", "ensemble"}
    summary = t["backtest_summary"]
    assert {"ml_barbell", "equal_weight", "benchmark"} <= set(summary["strategy"])
    for metric in (
        "annual_return",
        "sharpe",
        "max_drawdown",
        "deflated_sharpe",
        "directional_accuracy_21d",
        "base_rate_21d",
        "ic_21d",
    ):
        assert metric in set(summary["metric"])


def test_rerun_is_idempotent(slice_run):
    home = slice_run["home"]
    code = run_cli(
        home,
        "--config",
        str(slice_run["config"]),
        "--tickers",
        ",".join(SLICE_TICKERS),
        "--start",
        SLICE_START,
        "--end",
        SLICE_END,
    )
    assert code == 0
    for table in ("prices", "features", "targets", "forecasts", "signals", "allocations", "backtest_daily"):
        again = read_table(home / "warehouse.duckdb", table)
        before = slice_run["tables"][table]
        keys = [c for c in ("ticker", "date", "horizon", "model", "strategy") if c in again]
        pd.testing.assert_frame_equal(
            again.sort_values(keys).reset_index(drop=True),
            before.sort_values(keys).reset_index(drop=True),
            check_dtype=False,
        )


def test_point_in_time_prices_after_cutoff_change_nothing_before(slice_run, tmp_path):
    """Run the same slice from CSV twice, once with every price after the cutoff shocked."""
    original = sample_slice_csv(tmp_path / "prices.csv")
    shocked_frame = pd.read_csv(original, parse_dates=["date"])
    later = shocked_frame["date"] > PIT_CUTOFF
    rng = np.random.default_rng(1)
    shocked_frame.loc[later, "close"] *= np.exp(rng.normal(0, 0.2, later.sum()))
    shocked = tmp_path / "prices_shocked.csv"
    shocked_frame.assign(date=shocked_frame["date"].dt.date).to_csv(shocked, index=False)
    results = {}
    for name, csv in (("original", original), ("shocked", shocked)):
        home = tmp_path / name
        assert (
            run_cli(
                home,
                "--config",
                str(slice_run["config"]),
                "--source",
                "csv",
                "--csv",
                str(csv),
                "--tickers",
                ",".join(SLICE_TICKERS),
                "--start",
                PIT_RUN[0],
                "--end",
                PIT_RUN[1],
            )
            == 0
        )
        results[name] = {
            t: read_table(home / "warehouse.duckdb", t) for t in ("forecasts", "allocations", "signals")
        }
    for table, keys in (
        ("forecasts", ["ticker", "date", "horizon", "model"]),
        ("signals", ["ticker", "date"]),
        ("allocations", ["date", "ticker"]),
    ):
        a, b = (results[n][table] for n in ("original", "shocked"))
        a = a[pd.to_datetime(a["date"]) <= PIT_CUTOFF].drop(columns=["model_id"], errors="ignore")
        b = b[pd.to_datetime(b["date"]) <= PIT_CUTOFF].drop(columns=["model_id"], errors="ignore")
        assert len(a) > 0
        pd.testing.assert_frame_equal(
            a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
        )
        after_a = results["original"][table]
        after_b = results["shocked"][table]
        assert (
            not after_a[pd.to_datetime(after_a["date"]) > PIT_CUTOFF]
            .reset_index(drop=True)
            .equals(after_b[pd.to_datetime(after_b["date"]) > PIT_CUTOFF].reset_index(drop=True))
        ), "the shock must matter"


def test_failed_run_leaves_earlier_tables_intact(slice_run, tmp_path, capsys):
    home = slice_run["home"]
    before = {
        t: read_table(home / "warehouse.duckdb", t) for t in ("prices", "allocations", "backtest_summary")
    }
    broken = tmp_path / "broken.csv"
    broken.write_text("date,ticker,close\n1996-01-02,AAPL,1.0\n1996-01-03,AAPL,oops\n")
    assert run_cli(home, "--config", str(slice_run["config"]), "--source", "csv", "--csv", str(broken)) == 1
    assert "column 'close'" in capsys.readouterr().err
    for table, frame in before.items():
        pd.testing.assert_frame_equal(read_table(home / "warehouse.duckdb", table), frame)
