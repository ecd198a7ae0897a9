"""The paper ledger reconciles: nav = cash + positions, no negative cash or shares, fills trace to orders."""

import dagster as dg

from portfolio_dagster.assets.paper import paper_ledger
from portfolio_dagster.checks.scope import holding_warehouse
from portfolio_dagster.quant.ledger import RECONCILE_TOLERANCE, reconcile
from portfolio_dagster.resources.alerts import PAPER_LEDGER_UNRECONCILED, raise_alert
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

_SHOWN = 20  # problems listed in the metadata


@dg.asset_check(
    asset=paper_ledger,
    blocking=True,
    description=f"nav = cash + sum(quantity x price) to {RECONCILE_TOLERANCE:g} relative, cash >= 0, "
    "quantities >= 0, every fill traces to an order.",
)
@holding_warehouse
def paper_ledger_reconciles(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.AssetCheckResult:
    tables = {
        t: warehouse.query(f"SELECT * FROM {t}")
        for t in ("paper_account", "paper_positions", "paper_fills", "paper_orders")
    }
    account = tables["paper_account"]
    if account.empty:
        return dg.AssetCheckResult(passed=True, metadata={"sessions": 0})
    problems = reconcile(account, tables["paper_positions"], tables["paper_fills"], tables["paper_orders"])
    if problems:
        raise_alert(
            warehouse,
            settings.config,
            PAPER_LEDGER_UNRECONCILED,
            f"paper ledger does not reconcile: {problems[0]}"
            + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""),
            run_id=context.run.run_id,
            log=context.log,
            details={"problems": len(problems)},
        )
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "sessions": len(account),
            "problems": len(problems),
            "first_problems": dg.MetadataValue.json(problems[:_SHOWN]),
        },
    )


PAPER_CHECKS = (paper_ledger_reconciles,)
