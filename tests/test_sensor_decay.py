"""The decay sensor on a real DuckDB warehouse holding healthy and decayed live forecasts: point-in-time
evidence, decay retrains with a cool-down, the emergency as an operations-state history, alerts."""

import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.config import load_config
from portfolio_dagster.quant.calendar import session_offset
from portfolio_dagster.resources.alerts import (
    DECAY_RETRAIN_REQUESTED,
    EMERGENCY_OFF,
    EMERGENCY_ON,
    alerts_raised,
)
from portfolio_dagster.resources.operations_state import active_periods, emergency_flag, history, in_force
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.sensors.decay import REASON_TAG, TRIGGER_TAG, VALID_FROM_TAG, build_sensor, evaluate
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
    forecasts = idx.assign(
        horizon=HORIZON,
        model="ensemble",
        prediction=prediction,
        lower=prediction - 0.1,
        upper=prediction + 0.1,
        model_id="m",
    )
    targets = idx.assign(return_1d=0.0, return_5d=0.0, return_21d=realized, return_63d=np.nan)
    start, end = days.min().date(), (days.max() + pd.Timedelta(days=1)).date()
    warehouse.replace_range("forecasts", forecasts, start, end)
    warehouse.replace_range("targets", targets, start, end)


@pytest.fixture()
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("PMX_HOME", str(tmp_path))  # the alerts' JSON-lines file
    cfg = load_config().model_dump(mode="json")
    cfg["operations"].update(
        skill_window_days=40, retrain_below=0.55, emergency_below=0.45, retrain_cooldown_sessions=10
    )
    config_path = tmp_path / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    settings = PipelineSettings(config_path=str(config_path))
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    return build_sensor(settings.config), settings, warehouse


def _tick(sensor, settings, warehouse, cursor=None):
    # A `with` scope: the warehouse resource has setup/teardown (its publication).
    resources = {"settings": settings, "warehouse": warehouse}
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        result = sensor(context)
    return (
        result.run_requests or [],
        result.cursor,
        result.skip_reason.skip_message if result.skip_reason else None,
    )


def _evidence(cursor: str) -> str:
    return json.loads(cursor)["evidence"]


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


def test_evidence_is_only_forecasts_realized_by_the_session(setup):
    """At the newest session (2020-06-22), a 21-day forecast counts only if dated 21 sessions before or
    earlier; later forecasts (realized after) change nothing, however wrong they are."""
    sensor, settings, warehouse = setup
    days = _days("2020-01-02", 120)
    _write(warehouse, days, hit_rate=0.9, seed=1)
    as_of = days[-1].date()
    cutoff = session_offset(as_of, -HORIZON)
    requests, cursor, skip = _tick(sensor, settings, warehouse)
    assert requests == [] and "healthy" in skip
    assert _evidence(cursor) == cutoff.isoformat()
    # The newest 21 sessions' forecasts (not yet realized at as_of) turn terrible: same evidence, same
    # verdict.
    late = days[days > pd.Timestamp(cutoff)]
    _write(warehouse, late, hit_rate=0.0, seed=9)
    assert evaluate(settings.config, warehouse, None, as_of=as_of)[0] == []
    logged = warehouse.query("SELECT action, directional_accuracy, as_of FROM forecast_skill")
    assert list(logged["action"]) == ["none"] and logged["directional_accuracy"].iat[0] > 0.8
    assert pd.Timestamp(logged["as_of"].iat[0]).date() == as_of


def test_decayed_forecasts_request_a_decay_retrain_with_a_cool_down(setup):
    sensor, settings, warehouse = setup
    days = _days("2020-01-02", 120)
    _write(warehouse, days, hit_rate=0.5, seed=2)
    requests, cursor, _ = _tick(sensor, settings, warehouse)
    assert [r.job_name for r in requests] == ["retrain_job"]
    tags = requests[0].tags
    assert "below the retrain threshold 0.55" in tags[REASON_TAG]
    assert tags[TRIGGER_TAG] == "decay" and 0.45 <= float(tags["pmx/directional_accuracy"]) < 0.55
    as_of = days[-1].date()
    assert tags[VALID_FROM_TAG] == session_offset(as_of, 1).isoformat()
    assert alerts_raised(warehouse, DECAY_RETRAIN_REQUESTED) == 1
    # Same evidence, next tick: nothing fires.
    again, cursor_again, skip = _tick(sensor, settings, warehouse, cursor)
    assert again == [] and cursor_again == cursor and "no new realized evidence" in skip
    # New evidence within the cool-down (10 sessions): still decayed, no second retrain.
    _write(warehouse, _days(str((days[-1] + pd.Timedelta(days=1)).date()), 3), hit_rate=0.5, seed=3)
    more, cursor_more, _ = _tick(sensor, settings, warehouse, cursor)
    assert more == [] and json.loads(cursor_more)["last_retrain"] == as_of.isoformat()
    # After the cool-down a new retrain fires.
    _write(warehouse, _days(str((days[-1] + pd.Timedelta(days=5)).date()), 15), hit_rate=0.5, seed=4)
    later, _, _ = _tick(sensor, settings, warehouse, cursor_more)
    assert [r.job_name for r in later] == ["retrain_job"]
    assert not emergency_flag(warehouse).active


def test_emergency_takes_effect_the_next_session_as_a_history(setup):
    sensor, settings, warehouse = setup
    days = _days("2020-01-02", 120)
    _write(warehouse, days, hit_rate=0.2, seed=4)
    requests, cursor, _ = _tick(sensor, settings, warehouse)
    assert [r.job_name for r in requests] == ["retrain_job"]  # no re-decision of a past day
    as_of = days[-1].date()
    effective = session_offset(as_of, 1)
    assert not in_force(warehouse, as_of).active  # not before its evidence is realized
    on = in_force(warehouse, effective)
    assert on.active and "emergency threshold 0.45" in on.reason and on.evidence_date == as_of
    assert alerts_raised(warehouse, EMERGENCY_ON) == 1
    # Skill recovers on fresh evidence 30 sessions later: a new row, the first one is closed by it.
    later = _days(str((days[-1] + pd.Timedelta(days=1)).date()), 45)
    _write(warehouse, pd.DatetimeIndex(days.append(later)), hit_rate=0.95, seed=5)
    _tick(sensor, settings, warehouse, cursor)
    rows = history(warehouse)
    assert list(rows["active"]) == [True, False]
    lifted = session_offset(later[-1].date(), 1)
    assert pd.Timestamp(rows["effective_to"].iat[0]).date() == lifted and pd.isna(rows["effective_to"].iat[1])
    assert in_force(warehouse, session_offset(lifted, -1)).active and not in_force(warehouse, lifted).active
    assert active_periods(warehouse) == ((effective, lifted),)
    assert alerts_raised(warehouse, EMERGENCY_OFF) == 1
    actions = warehouse.query("SELECT action FROM forecast_skill ORDER BY evidence_date")["action"].tolist()
    assert actions == ["emergency", "recovered"]


def test_no_realized_forecasts_skip(setup):
    sensor, settings, warehouse = setup
    requests, cursor, skip = _tick(sensor, settings, warehouse)
    assert requests == [] and cursor is None and "no prices yet" in skip


def test_the_sensor_retrains_during_an_emergency_and_when_it_lifts_on_decayed_skill(setup):
    """The emergency protects the book; only a retrain restores the models: while it lasts, new decayed
    evidence after the cool-down requests a retrain, and lifting it on skill still below the retrain
    threshold requests one too."""
    sensor, settings, warehouse = setup
    days = _days("2020-01-02", 120)
    _write(warehouse, days, hit_rate=0.2, seed=4)
    first, cursor, _ = _tick(sensor, settings, warehouse)
    assert [r.job_name for r in first] == ["retrain_job"] and emergency_flag(warehouse).active
    # Still terrible 15 sessions later (past the 10-session cool-down): a retrain, the emergency stays.
    during = _days(str((days[-1] + pd.Timedelta(days=1)).date()), 15)
    _write(warehouse, during, hit_rate=0.2, seed=6)
    second, cursor, _ = _tick(sensor, settings, warehouse, cursor)
    assert [r.tags["pmx/decay_action"] for r in second] == ["retrain"]
    assert "emergency already active" in second[0].tags[REASON_TAG] and emergency_flag(warehouse).active
    assert alerts_raised(warehouse, EMERGENCY_ON) == 1  # not switched on twice
    # Recovered above the emergency threshold (0.45) but below the retrain one (0.55), 70 sessions later.
    after = _days(str((during[-1] + pd.Timedelta(days=1)).date()), 70)
    _write(warehouse, after, hit_rate=0.5, seed=7)
    third, _, _ = _tick(sensor, settings, warehouse, cursor)
    assert [r.tags["pmx/decay_action"] for r in third] == ["recovered"]
    assert not emergency_flag(warehouse).active and alerts_raised(warehouse, EMERGENCY_OFF) == 1
    actions = warehouse.query("SELECT action FROM forecast_skill ORDER BY evidence_date")["action"].tolist()
    assert actions == ["emergency", "retrain", "recovered"]
