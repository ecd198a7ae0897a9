"""The HTML report a PM reads, and the PNG equity curve; rendered in memory."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

HEADLINE = ("annual_return", "annual_volatility", "sharpe", "max_drawdown", "deflated_sharpe")
CAVEATS = (
    "The bundled sample's 20 stocks are the ones that survived to 2022: the universe is survivor-biased, "
    "so every strategy on it, 1/N included, is flattered.",
    "Returns are net of the configured transaction costs; Sharpe ratios use a zero risk-free rate.",
    "Forecast skill is out of sample (walk-forward with purge and embargo) and shown next to the base rate.",
)


def equity_png(daily: pd.DataFrame) -> bytes:
    """daily: date, strategy, equity."""
    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    for strategy, rows in daily.groupby("strategy", sort=True):
        ax.plot(pd.to_datetime(rows["date"]), rows["equity"], label=strategy, linewidth=1)
    ax.set_yscale("log")
    ax.set_title("Equity (net of costs, log scale)")
    ax.legend()
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def summary_table(summary: pd.DataFrame, metrics: tuple[str, ...] = HEADLINE) -> pd.DataFrame:
    """summary (strategy, metric, value) -> metric rows x strategy columns."""
    table = summary.pivot(index="metric", columns="strategy", values="value")
    return table.reindex([m for m in metrics if m in table.index])


def render_html(title: str, summary: pd.DataFrame, daily: pd.DataFrame, latest: pd.DataFrame) -> str:
    png = base64.b64encode(equity_png(daily)).decode()
    headline = summary_table(summary).to_html(float_format=lambda v: f"{v:.4f}", na_rep="n/a")
    skill = summary[summary["metric"].str.match(r"(directional_accuracy|base_rate|ic)_\d+d")]
    skill_html = skill.pivot(index="strategy", columns="metric", values="value").to_html(
        float_format=lambda v: f"{v:.4f}") if not skill.empty else "<p>No forecasts evaluated.</p>"
    caveats = "".join(f"<li>{html.escape(c)}</li>" for c in CAVEATS)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Headline (ml_barbell vs 1/N vs the index, same days)</h2>{headline}
<h2>Equity</h2><img alt="equity curve" src="data:image/png;base64,{png}">
<h2>Forecast skill (out of sample) next to the base rate</h2>{skill_html}
<h2>Latest allocation</h2>{latest.to_html(index=False, float_format=lambda v: f"{v:.4f}")}
<h2>Caveats</h2><ul>{caveats}</ul></body></html>"""


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (Dagster renders it in the UI)."""
    def cell(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
