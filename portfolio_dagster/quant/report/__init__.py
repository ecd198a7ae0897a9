"""The report a PM reads: HTML with inlined figures (html.py), its tables (tables.py) and sections
(sections.py), and the figures themselves (plots.py)."""

from portfolio_dagster.quant.report.html import (
    DriftSection,
    PaperSection,
    ReportData,
    render_html,
)
from portfolio_dagster.quant.report.plots import equity_png
from portfolio_dagster.quant.report.sections import CAVEATS
from portfolio_dagster.quant.report.tables import (
    HEADLINE,
    markdown_table,
    product_of,
    skill_table,
    strategy_label,
    summary_table,
)

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
