"""The schedules: the daily run after the NY close targets that day's partition and adds the models
asset only when a retrain period opens; the weekly retrain runs retrain_job."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.models import MODEL_LINEAGE_SECTIONS
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.schedules.daily import build_schedules

NY = "America/New_York"


@pytest.fixture()
def setup(tmp_path):
    cfg = load_config().model_dump(mode="json")
    cfg["models"]["retrain_frequency"] = "weekly"
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg))
    settings = PipelineSettings(config_path=str(path))
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    daily, weekly = build_schedules(settings.config)
    return daily, weekly, settings, warehouse


def _register_model(settings, warehouse, valid_from: str) -> None:
    row = pd.DataFrame(
        [
            {
                "model_id": "m",
                "model_type": "lightgbm",
                "horizon": 21,
                "train_start": dt.date(2020, 1, 2),
                "train_end": dt.date(2024, 1, 2),
                "valid_from": dt.date.fromisoformat(valid_from),
                "trained_at": pd.Timestamp("2024-01-02"),
                "config_hash": settings.config.fingerprint(*MODEL_LINEAGE_SECTIONS),
                "features": "[]",
                "metrics": "{}",
                "artifact": "m.txt",
                "artifact_sha256": "0",
            }
        ]
    )
    warehouse.replace_where("model_registry", row, "model_id", ["m"])


def _evaluate(schedule, settings, warehouse, when: dt.datetime, instance=None):
    import zoneinfo
    from pathlib import Path

    from portfolio_dagster.definitions import build_definitions

    defs = build_definitions(Path(settings.config_path), Path(warehouse.path), Path(warehouse.path).parent)
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=when.replace(tzinfo=zoneinfo.ZoneInfo(NY)),
        resources={"settings": settings, "warehouse": warehouse},
        repository_def=defs.get_repository_def(),
    ) as context:
        result = schedule.evaluate_tick(context)
        return result.run_requests[0] if result.run_requests else result.skip_message


def test_daily_schedule_is_after_the_ny_close_on_weekdays(setup):
    daily, weekly, _, _ = setup
    assert (daily.cron_schedule, daily.execution_timezone) == ("0 18 * * 1-5", NY)
    assert daily.job_name == "daily_job"
    assert (weekly.cron_schedule, weekly.execution_timezone, weekly.job_name) == (
        "0 6 * * 6",
        NY,
        "retrain_job",
    )


def test_daily_run_is_the_days_partition_and_retrains_only_when_due(setup):
    daily, _, settings, warehouse = setup
    _register_model(settings, warehouse, "2024-03-04")  # a Monday: this week's model exists
    wednesday = _evaluate(daily, settings, warehouse, dt.datetime(2024, 3, 6, 18))
    assert wednesday.partition_key == "2024-03-06" and wednesday.run_key == "daily-2024-03-06"
    keys = {k.to_user_string() for k in wednesday.asset_selection}
    assert {"prices", "features", "forecasts", "signals", "allocations"} <= keys and "models" not in keys
    assert wednesday.tags["pmx/retrain_due"] == "false"
    next_monday = _evaluate(daily, settings, warehouse, dt.datetime(2024, 3, 11, 18))
    assert "models" in {k.to_user_string() for k in next_monday.asset_selection}
    assert next_monday.tags["pmx/retrain_due"] == "true"


def test_a_later_tick_of_a_day_whose_run_is_queued_running_or_done_is_a_skip(setup):
    """Dagster dedupes a schedule's run_key per tick only: a cron more frequent than a run (every minute
    in a test) would queue a run of the same day at each tick. A day's run that is live or succeeded makes
    the tick a skip; a failed one is retried by the next tick."""
    daily, _, settings, warehouse = setup
    _register_model(settings, warehouse, "2024-03-04")
    when = dt.datetime(2024, 3, 6, 18)

    @dg.asset
    def stand_in() -> None:
        """A run carrying the daily run's tags (the schedule looks runs up by them)."""

    with dg.instance_for_test() as instance:
        request = _evaluate(daily, settings, warehouse, when, instance)
        assert request.tags["pmx/session"] == "2024-03-06"
        failed = dg.materialize(
            [dg.asset(name="fails")(lambda: 1 / 0)],
            instance=instance,
            tags=request.tags,
            raise_on_error=False,
        )
        assert not failed.success
        assert _evaluate(daily, settings, warehouse, when, instance).run_key == "daily-2024-03-06"
        assert dg.materialize([stand_in], instance=instance, tags=request.tags).success
        skipped = _evaluate(daily, settings, warehouse, when, instance)
        assert isinstance(skipped, str) and skipped.startswith("the daily run of 2024-03-06 is success")
        assert _evaluate(daily, settings, warehouse, dt.datetime(2024, 3, 7, 18), instance).run_key == (
            "daily-2024-03-07"
        )
