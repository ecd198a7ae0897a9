"""One definition of directional skill and its base rate (metrics.directional_skill), used alike by the
evaluation (forecast_skill), the model metrics (oos_skill), the decay sensor and the emergency control."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import metrics
from portfolio_dagster.quant.models.skill import oos_skill
from portfolio_dagster.quant.risk_controls import live_accuracy
from portfolio_dagster.sensors.skill import rolling_skill

# Eight forecasts: a flat realized move (not counted), a zero forecast (a "down" call), a NaN forecast.
PRED = np.array([0.02, -0.01, 0.0, 0.03, 0.01, -0.02, np.nan, 0.05])
REAL = np.array([0.01, 0.02, -0.03, 0.0, 0.02, -0.01, 0.04, -0.02])
# Counted: rows 0, 1, 2, 4, 5, 7. Hits: 0 (up/up), 2 (down/down), 4 (up/up), 5 (down/down) -> 4 of 6.
# Up moves among them: rows 0, 1, 4 -> base rate 3 of 6.


def test_directional_skill_by_hand():
    accuracy, base_rate, n = metrics.directional_skill(PRED, REAL)
    assert (accuracy, base_rate, n) == (pytest.approx(4 / 6), pytest.approx(3 / 6), 6)
    # Always calling "up" scores the base rate, by definition.
    up = np.where(np.isnan(PRED), np.nan, 1.0)
    assert metrics.directional_skill(up, REAL)[0] == pytest.approx(base_rate)
    assert metrics.directional_skill(-up, REAL)[0] == pytest.approx(1 - base_rate)
    assert metrics.directional_skill(np.array([1.0]), np.array([0.02])) == (1.0, 1.0, 1)
    nothing = metrics.directional_skill(np.array([1.0]), np.array([0.0]))
    assert math.isnan(nothing[0]) and math.isnan(nothing[1]) and nothing[2] == 0


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Timestamp("2020-01-02"),
            "ticker": [f"T{i}" for i in range(8)],
            "prediction": PRED,
            "realized": REAL,
        }
    )


def test_evaluation_model_metrics_and_sensor_agree():
    frame = _frame()
    evaluation = metrics.forecast_skill(frame)
    model = oos_skill(
        frame.rename(columns={"realized": "actual"}).assign(
            model="ensemble", horizon=1, lower=np.nan, upper=np.nan
        )
    ).iloc[0]
    sensor = rolling_skill(frame, window_days=5)
    for accuracy, base_rate in (
        (evaluation["directional_accuracy"], evaluation["base_rate"]),
        (model["directional_accuracy"], model["base_rate"]),
        (sensor.directional_accuracy, sensor.base_rate),
    ):
        assert accuracy == pytest.approx(4 / 6) and base_rate == pytest.approx(3 / 6)
    assert evaluation["n"] == 6 and sensor.observations == 6
    assert sensor.ic == pytest.approx(evaluation["ic"])


def test_the_sensor_ic_is_the_evaluations_over_several_dates():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "date": np.repeat(pd.bdate_range("2021-01-04", periods=6), 7),
            "ticker": np.tile([f"T{i}" for i in range(7)], 6),
            "prediction": rng.normal(size=42),
            "realized": rng.normal(size=42),
        }
    )
    frame.loc[::5, "realized"] = 0.0  # flat moves: no direction, still ranked
    sensor = rolling_skill(frame, window_days=6)
    evaluation = metrics.forecast_skill(frame)
    assert sensor.ic == pytest.approx(evaluation["ic"]) and np.isfinite(sensor.ic)
    assert (sensor.directional_accuracy, sensor.base_rate, sensor.observations) == (
        pytest.approx(evaluation["directional_accuracy"]),
        pytest.approx(evaluation["base_rate"]),
        evaluation["n"],
    )


def test_emergency_control_counts_hits_by_the_same_rule():
    # One ticker per column; each forecast date d is realized at d + 1 (horizon 1).
    days = pd.bdate_range("2020-01-06", periods=len(PRED) + 1)
    close = pd.DataFrame({"X": 100 * np.cumprod(np.concatenate([[1.0], 1 + REAL]))}, index=days)
    signals = pd.DataFrame({"date": days[:-1], "ticker": "X", "expected_return": PRED})
    acc = live_accuracy(signals, close, horizon=1, window_days=len(PRED))
    # At the last close every forecast is realized: the same 4 hits of 6 counted rows.
    assert acc.iloc[-1] == pytest.approx(4 / 6)


def test_forecast_skill_needs_three_counted_rows():
    frame = _frame().iloc[:4]  # rows 0..3: row 3 is a flat move, so 3 counted
    assert metrics.forecast_skill(frame)["n"] == 3
    short = metrics.forecast_skill(_frame().iloc[:3].assign(realized=[0.01, 0.0, 0.02]))
    assert short["n"] == 0 and math.isnan(short["directional_accuracy"]) and math.isnan(short["ic"])
