"""Every asset check, registered in definitions.py."""

from portfolio_dagster.checks.integrity import allocations_valid, prices_unique_and_positive

CHECKS = (prices_unique_and_positive, allocations_valid)
