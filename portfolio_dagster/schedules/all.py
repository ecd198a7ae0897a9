"""Every schedule, registered in definitions.py (crons and timezone from the `operations` config)."""

from portfolio_dagster import paths
from portfolio_dagster.config import load_config
from portfolio_dagster.schedules.daily import build_schedules

SCHEDULES = build_schedules(load_config(paths.config_path()))
