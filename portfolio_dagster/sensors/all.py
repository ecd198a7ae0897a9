"""Every sensor, registered in definitions.py (thresholds from the `operations` config)."""

from portfolio_dagster import paths
from portfolio_dagster.config import load_config
from portfolio_dagster.sensors.decay import build_sensor
from portfolio_dagster.sensors.drift import build_drift_sensor
from portfolio_dagster.sensors.run_failure import alert_on_run_failure

_CONFIG = load_config(paths.config_path())
SENSORS = (build_sensor(_CONFIG), alert_on_run_failure, build_drift_sensor(_CONFIG))
