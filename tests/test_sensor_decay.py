"""The decay sensor on a real DuckDB warehouse holding healthy and decayed live forecasts."""

import numpy as np
import pandas as pd
import pytest
import yaml

import dagster as dg
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.operations_state import emergency_flag
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.sensors.decay import REASON_TAG, build_sensor
from portfolio_dagster.sensors.skill import rolling_skill

TICKERS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
HORIZON = 21


def _days(start: str, n: int) -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n)


def _write(warehouse: Warehouse, days: pd.DatetimeIndex, hit_rate: float, seed: int) -> None:
    """Forecasts at HORIZON whose sign matches the realized target on a `hit_rate` share of rows."""
    rng = np.random.default_rng(seed)
    n = len(days) * len(TICKERS)
    realized = rng.normal(0.0, 0.05, n)
    hit = rng.random(n) < hit_rate
    prediction = np.where(hit, 1.0, -1.0) * np.abs(rng.normal(0.0, 0.02, n) + 1e-4) * np.sign(realized)
    idx = pd.MultiIndex.from_product([days, TICKERS], names=["date", "ticker"]).to_frame(index=False)
    forecasts = idx.assign(horizon=HORIZON, model="ensemble", prediction=prediction, lower=prediction - 0.1,
                           upper=prediction + 0.1, model_id="m")
    targets = idx.assign(return_1d=0.0, return_5d=0.0, return_21d=realized, return_63d=np.nan)
    start, end = days.min().date(), (days.max() + pd.Timedelta(days=1)).date()
    warehouse.replace_range("forecasts", forecasts, start, end)
    warehouse.replace_range("targets", targets, start, end)


@pytest.fixture()
def setup(tmp_path):
    cfg = load_config().model_dump(mode="json")
    cfg["operations"].update(skill_window_days=40, retrain_below=0.55, emergency_below=0.45)
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    settings = PipelineSettings(config_path=str(config_path))
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    return build_sensor(settings.config), settings, warehouse


def _tick(sensor, settings, warehouse, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"settings": settings, "warehouse": warehouse})
    result = sensor(context)
    return result.run_requests or [], result.cursor, result.skip_reason.skip_message if result.skip_reason else None


def test_skill_measures_accuracy_base_rate_and_ic():
    days = _days("2020-01-01", 10)
    pairs = pd.MultiIndex.from_product([days, TICKERS], names=["date", "ticker"]).to_frame(index=False)
    pairs["realized"] = np.tile([0.01, 0.02, -0.01, 0.03, 0.04, -0.02], len(days))
    pairs["prediction"] = pairs["realized"]
    skill = rolling_skill(pairs, window_days=5)
    assert skill.dates == 5 and skill.observations == 30
    assert skill.directional_accuracy == 1.0
    assert skill.base_rate == pytest.approx(4 / 6)
    assert skill.ic == pytest.approx(1.0)
    assert skill.evidence_date == days[-1]


def test_healthy_forecasts_do_not_fire(setup):
    sensor, settings, warehouse = setup
    _write(warehouse, _days("2020-01-01", 60), hit_rate=0.9, seed=1)
    requests, cursor, skip = _tick(sensor, settings, warehouse)
    assert requests == [] and "healthy" in skip
    assert cursor == "2020-03-24"
    assert not emergency_flag(warehouse).active
    logged = warehouse.query("SELECT action, directional_accuracy FROM forecast_skill")
    assert list(logged["action"]) == ["none"] and logged["directional_accuracy"].iat[0] > 0.8


def test_decayed_forecasts_request_one_retrain_per_evidence(setup):
    sensor, settings, warehouse = setup
    _write(warehouse, _days("2020-01-01", 60), hit_rate=0.5, seed=2)
    requests, cursor, _ = _tick(sensor, settings, warehouse)
    assert [r.job_name for r in requests] == ["retrain_job"]
    tags = requests[0].tags
    assert "below the retrain threshold 0.55" in tags[REASON_TAG]
    assert 0.45 <= float(tags["pmx/directional_accuracy"]) < 0.55
    assert requests[0].run_key == f"decay-retrain-{cursor}"
    # Same evidence, next tick: nothing fires.
    again, cursor_again, skip = _tick(sensor, settings, warehouse, cursor)
    assert again == [] and cursor_again == cursor and "no new realized evidence" in skip
    # New realized evidence (one more day), still decayed: fires once more.
    _write(warehouse, _days("2020-03-25", 1), hit_rate=0.0, seed=3)
    more, cursor_more, _ = _tick(sensor, settings, warehouse, cursor)
    assert [r.job_name for r in more] == ["retrain_job"] and cursor_more == "2020-03-25"
    assert not emergency_flag(warehouse).active


def test_emergency_switches_to_safe_sleeve_then_recovers(setup):
    sensor, settings, warehouse = setup
    _write(warehouse, _days("2020-01-01", 60), hit_rate=0.2, seed=4)
    requests, cursor, _ = _tick(sensor, settings, warehouse)
    assert sorted(r.job_name for r in requests) == ["reallocate_job", "retrain_job"]
    realloc = next(r for r in requests if r.job_name == "reallocate_job")
    assert realloc.partition_key == "2020-03-24"
    assert "emergency threshold 0.45" in realloc.tags[REASON_TAG]
    flag = emergency_flag(warehouse)
    assert flag.active and "emergency" in flag.reason and str(flag.evidence_date) == "2020-03-24"
    # Skill recovers on fresh evidence: the flag is lifted and allocations re-decided once.
    _write(warehouse, _days("2020-01-01", 80), hit_rate=0.95, seed=5)
    requests, cursor, _ = _tick(sensor, settings, warehouse, cursor)
    assert [r.job_name for r in requests] == ["reallocate_job"]
    assert not emergency_flag(warehouse).active
    actions = warehouse.query("SELECT action FROM forecast_skill ORDER BY evidence_date")["action"].tolist()
    assert actions == ["emergency", "recovered"]


def test_no_realized_forecasts_skip(setup):
    sensor, settings, warehouse = setup
    requests, cursor, skip = _tick(sensor, settings, warehouse)
    assert requests == [] and cursor is None and "no ensemble forecast" in skip
