"""The report a PM reads: HTML with inlined figures (html.py) and the figures themselves (plots.py)."""

from portfolio_dagster.quant.report.html import (
    CAVEATS,
    HEADLINE,
    DriftSection,
    PaperSection,
    ReportData,
    markdown_table,
    product_of,
    render_html,
    skill_table,
    strategy_label,
    summary_table,
)
from portfolio_dagster.quant.report.plots import equity_png

__all__ = [
    "CAVEATS",
    "HEADLINE",
    "DriftSection",
    "PaperSection",
    "ReportData",
    "equity_png",
    "markdown_table",
    "product_of",
    "render_html",
    "skill_table",
    "strategy_label",
    "summary_table",
]
