"""report: the self-contained HTML report a PM reads."""


import dagster as dg

from portfolio_dagster.assets.backtest import backtest
from portfolio_dagster.quant.report import render_html
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

REPORT_FILE = "report.html"


@dg.asset(group_name="evaluation", kinds={"html"}, deps=[backtest])
def report(context: dg.AssetExecutionContext, settings: PipelineSettings, warehouse: Warehouse,
           artifacts: ArtifactStore) -> dg.MaterializeResult:
    summary = warehouse.query("SELECT * FROM backtest_summary")
    daily = warehouse.query("SELECT date, strategy, equity FROM backtest_daily ORDER BY date")
    latest = warehouse.query("SELECT * FROM latest_allocations ORDER BY sleeve, weight DESC")
    path = artifacts.reports_dir / REPORT_FILE
    path.write_text(render_html(settings.config.report.title, summary, daily, latest))
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})
