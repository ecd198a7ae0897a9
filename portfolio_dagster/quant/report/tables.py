"""The report's tables: the headline metrics by strategy and the forecast and risk skill by horizon, as
HTML (the report) and as markdown (Dagster's UI), each value in its metric's unit."""

from __future__ import annotations

import html
import math

import pandas as pd

from portfolio_dagster.quant.evaluation import PRODUCT_METRIC
from portfolio_dagster.quant.report import plots

HEADLINE = (
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "information_ratio",
    "hit_rate",
    "profit_factor",
    "turnover",
    "probabilistic_sharpe",
    "deflated_sharpe",
    "stress_max_drawdown",
    "cost_drag",
    "capacity_usd",
)
PERCENT_METRICS = {
    "annual_return",
    "annual_volatility",
    "max_drawdown",
    "hit_rate",
    "stress_max_drawdown",
    "cost_drag",
    "probabilistic_sharpe",
    "deflated_sharpe",
    "pbo",
    "directional_accuracy",
    "base_rate",
}


def _fmt(metric: str, v: object) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if metric in ("ic", "risk"):
        return f"{v:.3f}"
    if metric == "capacity_usd":
        return f"${v / 1e6:,.1f}M"
    if metric in PERCENT_METRICS:
        return f"{v:.1%}"
    return f"{v:.2f}" if isinstance(v, float) else html.escape(str(v))


def product_of(summary: pd.DataFrame) -> str | None:
    """The strategy backtest_summary marks as the product (metric is_product = 1), None if none is."""
    marked = summary[(summary["metric"] == PRODUCT_METRIC) & (summary["value"] == 1.0)]
    return str(marked["strategy"].iat[0]) if len(marked) else None


def strategy_label(strategy: str, product: str | None) -> str:
    """A strategy's name for a reader; the product's says so ("rule barbell (ML off) - product")."""
    label = plots.LABELS.get(strategy, strategy)
    return f"{label} - product" if strategy == product else label


def summary_table(summary: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE) -> pd.DataFrame:
    """summary (strategy, metric, value) -> metric rows x strategy columns (the product first)."""
    table = summary.pivot(index="metric", columns="strategy", values="value")
    product = product_of(summary)
    order = [product] if product in table.columns else []
    order += [s for s in plots.LABELS if s in table.columns and s not in order]
    return table.reindex([m for m in metrics if m in table.index])[
        order + [c for c in table if c not in order]
    ]


def skill_table(summary: pd.DataFrame) -> pd.DataFrame:
    """horizon, directional_accuracy, base_rate, ic, rank_ic, ic_tstat from the ml_barbell summary rows."""
    rows = summary[
        (summary["strategy"] == "ml_barbell")
        & summary["metric"].str.match(r"(directional_accuracy|base_rate|ic|rank_ic|ic_tstat)_\d+d$")
    ]
    if rows.empty:
        return pd.DataFrame(columns=["horizon", "directional_accuracy", "base_rate", "ic"])
    parts = rows["metric"].str.extract(r"(?P<kind>.+)_(?P<horizon>\d+)d$")
    table = pd.DataFrame(
        {"kind": parts["kind"], "horizon": parts["horizon"].astype(int), "value": rows["value"].to_numpy()}
    )
    out = table.pivot(index="horizon", columns="kind", values="value").reset_index().sort_values("horizon")
    return out.reindex(columns=["horizon", "directional_accuracy", "base_rate", "ic", "rank_ic", "ic_tstat"])


def risk_table(summary: pd.DataFrame) -> pd.DataFrame:
    """horizon, risk_qlike, risk_qlike_ewma, risk_dm_pvalue from the ml_barbell summary rows (the chosen
    risk forecast against RiskMetrics' EWMA on the same rows, Diebold-Mariano with HAC)."""
    columns = ["horizon", "risk_qlike", "risk_qlike_ewma", "risk_dm_pvalue"]
    rows = summary[
        (summary["strategy"] == "ml_barbell")
        & summary["metric"].str.match(r"(risk_qlike|risk_qlike_ewma|risk_dm_pvalue)_\d+d$")
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    parts = rows["metric"].str.extract(r"(?P<kind>.+)_(?P<horizon>\d+)d$")
    table = pd.DataFrame(
        {"kind": parts["kind"], "horizon": parts["horizon"].astype(int), "value": rows["value"].to_numpy()}
    )
    out = table.pivot(index="horizon", columns="kind", values="value").reset_index().sort_values("horizon")
    return out.reindex(columns=columns)


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None, cls: str = "") -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for col, v in zip(frame.columns, row, strict=True):
            text = _fmt(formats.get(col, col), v) if isinstance(v, float) else html.escape(str(v))
            klass = {"PASS": "pass", "FAIL": "fail", "not measured": "na"}.get(str(v), "")
            cells.append(f'<td class="{klass}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (Dagster renders it in the UI)."""

    def cell(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
