"""Every schedule, registered in definitions.py (crons and timezone from the `operations` config)."""

from portfolio_dagster.schedules.daily import build_schedules

__all__ = ["build_schedules"]
