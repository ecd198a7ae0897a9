"""Blocking integrity checks: a failure stops the stages downstream."""

import dagster as dg

from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.prices import prices
from portfolio_dagster.checks.alerting import alert_if_blocked
from portfolio_dagster.checks.scope import holding_warehouse
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

WEIGHT_TOLERANCE = 1e-9


@dg.asset_check(asset=prices, blocking=True, description="No (ticker, date) twice; no non-positive close.")
@holding_warehouse
def prices_unique_and_positive(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.AssetCheckResult:
    dup = warehouse.query("SELECT count(*) - count(DISTINCT (ticker, date)) AS n FROM prices")["n"].iat[0]
    bad = warehouse.query("SELECT count(*) AS n FROM prices WHERE NOT isfinite(close) OR close <= 0")[
        "n"
    ].iat[0]
    return alert_if_blocked(
        context,
        settings,
        warehouse,
        dg.AssetCheckResult(
            passed=bool(dup == 0 and bad == 0), metadata={"duplicate_keys": int(dup), "bad_closes": int(bad)}
        ),
    )


@dg.asset_check(
    asset=allocations,
    blocking=True,
    description="Per date the weights sum to 1, none negative or non-finite, each risky weight "
    "within strategy.max_position.",
)
@holding_warehouse
def allocations_valid(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, settings: PipelineSettings
) -> dg.AssetCheckResult:
    off = warehouse.query(
        "SELECT count(*) AS n FROM (SELECT date, sum(weight) AS s, min(weight) AS m, "
        "bool_and(isfinite(weight)) AS f FROM allocations GROUP BY date) WHERE abs(s - 1) > ? OR m < 0 OR "
        "NOT f",
        [WEIGHT_TOLERANCE],
    )["n"].iat[0]
    cap = settings.config.strategy.max_position
    over = warehouse.query(
        "SELECT count(*) AS n FROM allocations WHERE sleeve = 'risky' AND weight > ?",
        [cap + WEIGHT_TOLERANCE],
    )["n"].iat[0]
    return alert_if_blocked(
        context,
        settings,
        warehouse,
        dg.AssetCheckResult(
            passed=bool(off == 0 and over == 0),
            metadata={"dates_violating": int(off), "risky_weights_over_cap": int(over), "cap": cap},
        ),
    )
