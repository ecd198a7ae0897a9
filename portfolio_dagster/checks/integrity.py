"""Blocking integrity checks: a failure stops the stages downstream."""


import dagster as dg

from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.prices import prices
from portfolio_dagster.resources.warehouse import Warehouse

WEIGHT_TOLERANCE = 1e-9


@dg.asset_check(asset=prices, blocking=True, description="No (ticker, date) twice; no non-positive close.")
def prices_unique_and_positive(warehouse: Warehouse) -> dg.AssetCheckResult:
    dup = warehouse.query("SELECT count(*) - count(DISTINCT (ticker, date)) AS n FROM prices")["n"].iat[0]
    bad = warehouse.query("SELECT count(*) AS n FROM prices WHERE NOT isfinite(close) OR close <= 0")["n"].iat[0]
    return dg.AssetCheckResult(passed=bool(dup == 0 and bad == 0),
                               metadata={"duplicate_keys": int(dup), "bad_closes": int(bad)})


@dg.asset_check(asset=allocations, blocking=True,
                description="Per date the weights sum to 1, none negative, each risky weight within the cap.")
def allocations_valid(warehouse: Warehouse) -> dg.AssetCheckResult:
    off = warehouse.query(
        "SELECT count(*) AS n FROM (SELECT date, sum(weight) AS s, min(weight) AS m FROM allocations "
        "GROUP BY date) WHERE abs(s - 1) > ? OR m < 0", [WEIGHT_TOLERANCE])["n"].iat[0]
    return dg.AssetCheckResult(passed=bool(off == 0), metadata={"dates_violating": int(off)})
