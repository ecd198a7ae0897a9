"""Issue 13: the cheap orchestration of `pmx run` (yearly history twins, the last week as daily
partitions, six Dagster runs) writes exactly the tables of the orchestration before it (commit
429d30f: one Dagster run per stage over the whole range as daily partitions), on a slice of the
real sample that trains models and backtests. Floats may differ in the last bits where the range is
computed in two pieces (tests/warehouse_compare.py: tolerance 1e-10 relative)."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import dagster as dg
import pytest
from pipeline_helpers import SLICE_END, SLICE_START, SLICE_TICKERS, run_cli, small_config
from warehouse_compare import differences, tables

# The slice spans five calendar years: history twins for the years, daily partitions for the last week.
ARGS = ("--tickers", ",".join(SLICE_TICKERS), "--start", SLICE_START, "--end", SLICE_END)


def _reference_run(home: Path, config_file: Path, first: str, last: str) -> None:
    """The orchestration of 429d30f: every stage in pipeline order, one run over its daily range
    (decision stages from backtest.start). Events go to an in-memory instance: per-partition events
    on SQLite would make this test slow, and where events are stored does not change the tables."""
    from portfolio_dagster import paths
    from portfolio_dagster.assets.all import ALL_ASSETS, DECISION_STAGES
    from portfolio_dagster.checks.all import CHECKS
    from portfolio_dagster.config import load_config
    from portfolio_dagster.definitions import build_definitions
    from portfolio_dagster.pipeline_execution import QUIET_RUN_CONFIG, RANGE_END_TAG, RANGE_START_TAG
    from portfolio_dagster.pipeline_runner import stages

    config = load_config(config_file)
    # The daily assets as defined (every weekday): the definitions' begin at the range's last week.
    resources = build_definitions(config_file, paths.warehouse_path(), paths.home()).resources
    every_weekday = dg.Definitions(assets=list(ALL_ASSETS), asset_checks=list(CHECKS), resources=resources)
    job = every_weekday.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.ephemeral()
    decisions_first = max(first, config.backtest.start.isoformat())
    for asset in stages(config):
        start = decisions_first if asset.key.to_user_string() in DECISION_STAGES else first
        tags = {RANGE_START_TAG: start, RANGE_END_TAG: last} if asset.partitions_def else {}
        result = job.execute_in_process(
            run_config=QUIET_RUN_CONFIG,
            instance=instance,
            asset_selection=[asset.key],
            tags=tags,
            raise_on_error=False,
        )
        assert result.success, asset.key


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    root = tmp_path_factory.mktemp("equivalence")
    config = small_config(root / "config.yaml")
    saved = {k: os.environ.get(k) for k in ("PMX_HOME", "PMX_CONFIG", "PMX_WAREHOUSE", "DAGSTER_HOME")}
    try:
        cheap = root / "cheap"
        assert run_cli(cheap, "--config", str(config), *ARGS) == 0
        reference = root / "reference"
        reference.mkdir()
        effective = reference / "config.effective.yaml"
        shutil.copy(cheap / "config.effective.yaml", effective)
        os.environ.pop("PMX_WAREHOUSE", None)
        os.environ.pop("DAGSTER_HOME", None)
        os.environ["PMX_HOME"] = str(reference)
        os.environ["PMX_CONFIG"] = str(effective)
        from portfolio_dagster.cli import _partition_keys
        from portfolio_dagster.config import load_config

        data = load_config(effective).data
        _reference_run(reference, effective, *_partition_keys(data.start, data.end))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {
        "cheap": cheap / "warehouse.duckdb",
        "reference": reference / "warehouse.duckdb",
        "cheap_home": cheap,
    }


def test_every_table_is_identical_to_the_per_stage_daily_runs(two_runs):
    assert differences(two_runs["cheap"], two_runs["reference"]) == []


def test_the_comparison_covers_the_pipeline_and_sees_a_changed_value(two_runs, tmp_path):
    found = tables(two_runs["cheap"])
    for name in (
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
    ):
        assert len(found[name]) > 0, name
    # The same comparison fails when one allocation weight differs by a millionth.
    import duckdb

    copy = tmp_path / "changed.duckdb"
    shutil.copy(two_runs["cheap"], copy)
    con = duckdb.connect(str(copy))
    con.execute(
        "UPDATE allocations SET weight = weight + 1e-6 "
        "WHERE date = (SELECT max(date) FROM allocations) AND ticker = 'CASH'"
    )
    con.close()
    assert [d.split(":")[0] for d in differences(two_runs["cheap"], copy)] == ["allocations"]


def test_history_is_recorded_in_years_and_the_last_week_in_days(two_runs, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(two_runs["cheap_home"] / "dagster_home"))
    instance = dg.DagsterInstance.get()
    years = instance.get_materialized_partitions(dg.AssetKey("prices_history"))
    days = instance.get_materialized_partitions(dg.AssetKey("prices"))
    assert years == {"1995", "1996", "1997", "1998", "1999"}
    assert days == {"1999-12-27", "1999-12-28", "1999-12-29", "1999-12-30", "1999-12-31"}
    runs = instance.get_runs()
    assert len(runs) == 6 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)


def test_every_loaded_year_and_the_last_week_are_checked(two_runs, monkeypatch):
    """The window checks run on the twins over the history's years and on the daily assets over the last
    week: together every loaded date is checked once."""
    monkeypatch.setenv("DAGSTER_HOME", str(two_runs["cheap_home"] / "dagster_home"))
    instance = dg.DagsterInstance.get()
    checked = {}
    for run in instance.get_runs():
        records = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        for record in records:
            evaluation = record.event_log_entry.dagster_event.asset_check_evaluation_data
            checked[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation.passed
    for asset, name in (
        ("prices", "prices_no_missing_days"),
        ("prices", "prices_no_suspicious_jumps"),
        ("features", "features_finite"),
        ("forecasts", "forecast_coverage"),
    ):
        assert checked.get((f"{asset}_history", name)) is True, (asset, name)
        assert checked.get((asset, name)) is True, (asset, name)
    assert ("prices", "prices_fresh") in checked and ("prices_history", "prices_fresh") not in checked
