"""pipeline_runner, pipeline_execution, pipeline_summary: the plan of `pmx run` (history years, last
week's days), one-line failures without class names, RunRequests executed in-process, and the history
twins' window clipping."""

import datetime as dt

import dagster as dg
import pytest

from portfolio_dagster.assets.history import clipped_window
from portfolio_dagster.config import load_config
from portfolio_dagster.partitions import DAILY_TAIL_SESSIONS, SINGLE_RUN, TRADING_DAY_PARTITIONS
from portfolio_dagster.pipeline_execution import execute_run_request
from portfolio_dagster.pipeline_runner import RunFailed, plan
from portfolio_dagster.pipeline_summary import _clean, failure_reason


def _labels(phases):
    return [(p.label, p.partition_range, sorted(a.key.to_user_string() for a in p.assets)) for p in phases]


def test_default_range_loads_years_through_twins_and_the_last_week_as_days():
    cfg = load_config()
    phases = plan(cfg, ("1990-01-02", "2022-12-28"))
    labels = [p.label for p in phases]
    assert labels == [
        "market history",
        "market days",
        "models",
        "decisions history",
        "decisions days",
        "evaluation",
    ]
    by = {p.label: p for p in phases}
    assert by["market history"].partition_range == ("1990", "2022")
    assert by["market history"].partitions == 33
    assert {a.key.to_user_string() for a in by["market history"].assets} == {
        "raw_prices_sample_history",
        "prices_history",
        "features_history",
        "targets_history",
    }
    assert by["market days"].partition_range == ("2022-12-22", "2022-12-28")
    assert by["market days"].partitions == DAILY_TAIL_SESSIONS
    # Decisions start at backtest.start, as before the change.
    assert by["decisions history"].partition_range == (str(cfg.backtest.start.year), "2022")
    assert {a.key.to_user_string() for a in by["decisions days"].assets} == {
        "forecasts",
        "regimes",
        "risk_forecasts",
        "signals",
        "allocations",
    }


def test_a_range_within_the_last_week_runs_daily_partitions_only():
    cfg = load_config().with_overrides(start=dt.date(2022, 12, 26), end=dt.date(2022, 12, 28))
    phases = plan(cfg, ("2022-12-26", "2022-12-28"))
    assert [p.label for p in phases] == ["market days", "models", "decisions days", "evaluation"]
    assert phases[0].partition_range == ("2022-12-26", "2022-12-28") and phases[0].partitions == 3


def test_twin_window_is_clipped_to_the_configured_range():
    tz = dt.UTC
    years = dg.TimeWindow(dt.datetime(1999, 1, 1, tzinfo=tz), dt.datetime(2001, 1, 1, tzinfo=tz))
    clipped = clipped_window(years, dt.date(1999, 6, 1), dt.date(2000, 3, 1))
    assert (clipped.start.date(), clipped.end.date()) == (dt.date(1999, 6, 1), dt.date(2000, 3, 1))
    assert clipped_window(years, dt.date(2001, 1, 1), dt.date(2002, 1, 1)) is None


def test_error_messages_lose_python_class_names():
    assert (
        _clean(
            "dagster._core.definitions.events.Failure: yfinance: request for 'AAPL' failed (DNSError)\n"
            "  File ..."
        )
        == "yfinance: request for 'AAPL' failed (DNSError)"
    )
    assert _clean("ValueError: bad close") == "bad close"
    assert _clean("prices do not reconcile: raw 3 != clean 2") == "prices do not reconcile: raw 3 != clean 2"


@dg.asset(partitions_def=TRADING_DAY_PARTITIONS, backfill_policy=SINGLE_RUN)
def broken(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    if context.partition_key == "2022-12-27":
        raise dg.Failure("the source refused the request")
    if context.partition_key == "2022-12-28":
        raise ValueError("a close of -1.0 for AAPL")
    return dg.MaterializeResult(metadata={"rows": 1})


@pytest.fixture
def job():
    return dg.Definitions(assets=[broken]).resolve_implicit_global_asset_job_def()


def test_a_failed_stage_is_one_line_naming_the_stage_and_the_cause(job):
    instance = dg.DagsterInstance.ephemeral()
    for day, cause in (
        ("2022-12-27", "the source refused the request"),
        ("2022-12-28", "a close of -1.0 for AAPL"),
    ):
        result = job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
        reason = failure_reason(result)
        assert reason == f"broken: {cause}"
        assert "dagster" not in reason and "Error" not in reason and "\n" not in reason


def test_execute_run_request_runs_the_request_in_the_instance(job):
    instance = dg.DagsterInstance.ephemeral()
    request = dg.RunRequest(
        partition_key="2022-12-23", asset_selection=[broken.key], tags={"pmx/schedule": "x"}
    )
    result = execute_run_request(job, request, instance)
    run = instance.get_run_by_id(result.run_id)
    assert run.tags["pmx/schedule"] == "x" and run.tags["dagster/partition"] == "2022-12-23"
    assert instance.get_materialized_partitions(broken.key) == {"2022-12-23"}
    with pytest.raises(RunFailed, match="^broken: the source refused the request$"):
        execute_run_request(job, dg.RunRequest(partition_key="2022-12-27"), instance)


def test_forecast_skill_is_refreshed_by_ranges_and_month_ends(tmp_path):
    from portfolio_dagster.assets.forecasts import _skill_due
    from portfolio_dagster.resources.warehouse import Warehouse

    warehouse = Warehouse(path=str(tmp_path / "w.duckdb"))
    d = dt.date
    assert _skill_due(warehouse, d(2022, 12, 5), d(2022, 12, 6))  # empty model_metrics
    with warehouse.connect() as con:
        con.execute("INSERT INTO model_metrics (model, horizon, observations) VALUES ('ensemble', 21, 10)")
    assert not _skill_due(warehouse, d(2022, 12, 5), d(2022, 12, 6))  # a mid-month day
    assert _skill_due(warehouse, d(2022, 12, 30), d(2023, 1, 2))  # the month's last session
    assert _skill_due(warehouse, d(2022, 12, 1), d(2022, 12, 9))  # a range of 8 days
    assert not _skill_due(warehouse, d(2022, 12, 22), d(2022, 12, 29))  # pmx run's last week
