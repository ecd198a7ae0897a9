"""Every job, registered in definitions.py (built from the config there)."""

from portfolio_dagster.jobs.pipeline import build_jobs

__all__ = ["build_jobs"]
