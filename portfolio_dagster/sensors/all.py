"""Every sensor, registered in definitions.py (thresholds from the `operations` config)."""

from portfolio_dagster import paths
from portfolio_dagster.config import load_config
from portfolio_dagster.sensors.decay import build_sensor

SENSORS = (build_sensor(load_config(paths.config_path())),)
