"""report: the self-contained HTML report a PM reads, from the backtest's tables."""

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.backtest import backtest
from portfolio_dagster.assets.stage import EVALUATION, phase_tags
from portfolio_dagster.quant.report import DriftSection, PaperSection, ReportData, markdown_table, render_html
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.feature_drift import drift_report
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

REPORT_FILE = "report.html"


def drift_section(warehouse: Warehouse, cfg, artifacts: ArtifactStore | None = None) -> DriftSection:
    """Feature drift of the model set in use (the feature_drift check's figures)."""
    cache = artifacts.drift_profiles_dir if artifacts is not None else None
    found = drift_report(warehouse, cfg.operations, cfg.strategy.signal_horizon, cache)
    caption = found.note or (
        f"Model set {found.model_set_id}: its inputs over the newest sessions "
        f"{found.recent_window} vs its training window {found.train_window}."
    )
    return DriftSection(found.table, found.threshold, caption, found.rule)


def paper_section(warehouse: Warehouse) -> PaperSection:
    """The paper ledger's sessions, the last session's orders and holdings."""
    account = warehouse.query(
        "SELECT date, nav_usd, cash_usd, daily_return, backtest_return, benchmark_return "
        "FROM paper_account ORDER BY date"
    )
    last = account["date"].max() if len(account) else None
    orders = (
        warehouse.query(
            "SELECT date, ticker, side, quantity, reference_price, target_weight, previous_weight, "
            "reason FROM paper_orders WHERE date = ? ORDER BY ticker",
            [last],
        )
        if last
        else account
    )
    held = (
        warehouse.query("SELECT * FROM paper_positions WHERE date = ? ORDER BY weight DESC", [last])
        if last
        else account
    )
    return PaperSection(account, orders, held)


@dg.asset(tags=phase_tags(EVALUATION), group_name="evaluation", kinds={"html"}, deps=[backtest])
def report(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    artifacts: ArtifactStore,
) -> dg.MaterializeResult:
    q = warehouse.query
    daily = q("SELECT date, strategy, net_return, equity FROM backtest_daily ORDER BY date")
    if daily.empty:
        raise dg.Failure("backtest_daily is empty: materialize backtest first")
    first = pd.to_datetime(daily["date"]).min().date()
    data = ReportData(
        title=settings.config.report.title,
        summary=q("SELECT * FROM backtest_summary"),
        daily=daily,
        rolling=q("SELECT * FROM backtest_rolling ORDER BY date"),
        allocations=q(
            "SELECT date, ticker, weight, sleeve FROM allocations WHERE date >= ? ORDER BY date",
            [settings.config.backtest.start],
        ),
        regimes=q("SELECT date, state, probabilities FROM regimes WHERE date >= ? ORDER BY date", [first]),
        regime_performance=q("SELECT * FROM backtest_regimes ORDER BY strategy, state"),
        criteria=q("SELECT * FROM backtest_criteria ORDER BY rowid"),
        variants=q("SELECT * FROM backtest_variants"),
        spans=q(
            "SELECT ticker, min(date) AS first, max(date) AS last, count(*) AS days FROM prices "
            "GROUP BY ticker ORDER BY ticker"
        ),
        latest=q("SELECT * FROM latest_allocations ORDER BY sleeve, weight DESC"),
        drift=drift_section(warehouse, settings.config, artifacts),
        paper=paper_section(warehouse),
    )
    path = artifacts.reports_dir / REPORT_FILE
    path.write_text(render_html(data))
    crit = data.criteria[["criterion", "measured", "passed"]]
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "size_kb": round(path.stat().st_size / 1024, 1),
            "criteria": dg.MetadataValue.md(markdown_table(crit) if len(crit) else "none"),
        }
    )
