"""Every sensor, registered in definitions.py (thresholds from the `operations` config)."""

import dagster as dg

from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.sensors.decay import build_sensor
from portfolio_dagster.sensors.drift import build_drift_sensor
from portfolio_dagster.sensors.run_failure import alert_on_run_failure


def build_sensors(cfg: PipelineConfig) -> tuple[dg.SensorDefinition, ...]:
    """The decay sensor, the run-failure alert and the drift sensor of the config."""
    return build_sensor(cfg), alert_on_run_failure, build_drift_sensor(cfg)
