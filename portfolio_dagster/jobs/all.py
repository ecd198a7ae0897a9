"""Every job, registered in definitions.py."""

from portfolio_dagster.jobs.pipeline import JOBS

__all__ = ["JOBS"]
