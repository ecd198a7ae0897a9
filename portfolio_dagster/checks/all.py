"""Every asset check, registered in definitions.py."""

import dagster as dg

from portfolio_dagster.assets.all import HISTORY_OF
from portfolio_dagster.checks.drift import feature_drift
from portfolio_dagster.checks.integrity import allocations_valid, prices_unique_and_positive
from portfolio_dagster.checks.market_data import (
    prices_no_missing_days,
    prices_no_suspicious_jumps,
    prices_sources_agree,
)
from portfolio_dagster.checks.operations import (
    features_finite,
    forecast_coverage,
    prices_fresh,
    purge_guard,
)
from portfolio_dagster.checks.paper import PAPER_CHECKS
from portfolio_dagster.checks.scope import WindowCheck

# Over the run's partitions (checks/scope.py); those in ON_HISTORY also on their stage's yearly twin
# (freshness is relative to the run's last session: a history year's is not news).
WINDOW_CHECKS: tuple[WindowCheck, ...] = (
    prices_no_missing_days,
    prices_no_suspicious_jumps,
    prices_fresh,
    features_finite,
    forecast_coverage,
)
ON_HISTORY = (prices_no_missing_days, prices_no_suspicious_jumps, features_finite, forecast_coverage)
TABLE_CHECKS = (
    prices_unique_and_positive,
    allocations_valid,
    prices_sources_agree,
    purge_guard,
    feature_drift,
    *PAPER_CHECKS,
)
CHECKS = (*TABLE_CHECKS, *(c.on() for c in WINDOW_CHECKS))


def build_checks(days: dg.PartitionsDefinition) -> list[dg.AssetChecksDefinition]:
    """CHECKS with the window checks over `days`, the definitions' daily partitions, and those of
    ON_HISTORY on their stages' twins."""
    return [
        *TABLE_CHECKS,
        *(c.on(partitions_def=days) for c in WINDOW_CHECKS),
        *(c.on_history(HISTORY_OF[c.asset]) for c in ON_HISTORY),
    ]
