"""Every asset check, registered in definitions.py."""

import dagster as dg

from portfolio_dagster.checks.drift import feature_drift
from portfolio_dagster.checks.integrity import allocations_valid, prices_unique_and_positive
from portfolio_dagster.checks.market_data import MARKET_DATA_CHECKS
from portfolio_dagster.checks.operations import OPERATIONS_CHECKS, prices_fresh, prices_fresh_check
from portfolio_dagster.checks.paper import PAPER_CHECKS

CHECKS = (
    prices_unique_and_positive,
    allocations_valid,
    *MARKET_DATA_CHECKS,
    *OPERATIONS_CHECKS,
    feature_drift,
    *PAPER_CHECKS,
)


def build_checks(days: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    """CHECKS with the partitioned ones over `days`, the definitions' daily partitions."""
    return [prices_fresh_check(days) if c is prices_fresh else c for c in CHECKS]
