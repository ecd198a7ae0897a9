"""The self-contained HTML report a PM reads: every figure inlined as a PNG data URI, no external files."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pandas as pd

from portfolio_dagster.quant.drift import ABSOLUTE
from portfolio_dagster.quant.metrics import ROLLING_WINDOW_DAYS, monthly_returns
from portfolio_dagster.quant.report import plots
from portfolio_dagster.quant.report.sections import (
    _caveats,
    _drift,
    _img,
    _overfitting,
    _paper,
    _regimes_section,
    _risk_section,
    _sleeve_note,
    _stress_table,
)
from portfolio_dagster.quant.report.tables import (
    _fmt,
    _table,
    product_of,
    skill_table,
    strategy_label,
    summary_table,
)
from portfolio_dagster.quant.report.verdict import ablation_verdict, ml_verdict, mode_choice


@dataclass(frozen=True)
class DriftSection:
    """Feature drift of the model inputs: quant.drift.DRIFT_COLUMNS rows, the most drifted first."""

    table: pd.DataFrame
    threshold: float
    caption: str  # the windows compared, or why nothing was
    rule: str = ABSOLUTE  # quant.drift rule deciding which inputs drifted


@dataclass(frozen=True)
class PaperSection:
    """The paper ledger: its sessions (paper_account), the last session's orders and holdings."""

    account: pd.DataFrame
    orders: pd.DataFrame
    positions: pd.DataFrame


@dataclass(frozen=True)
class ReportData:
    """Every table the HTML report renders, read from the warehouse by the report asset."""

    title: str
    summary: pd.DataFrame  # strategy, metric, value
    daily: pd.DataFrame  # date, strategy, net_return, equity
    rolling: pd.DataFrame  # date, strategy, rolling_sharpe, drawdown, window_days
    allocations: pd.DataFrame  # date, ticker, weight, sleeve
    regimes: pd.DataFrame  # date, state, probabilities
    regime_performance: pd.DataFrame  # strategy, state, days, annual_return, sharpe, ...
    criteria: pd.DataFrame  # criterion, target, measured, passed, detail
    variants: pd.DataFrame  # variant, ..., sharpe
    spans: pd.DataFrame  # ticker, first, last, days
    latest: pd.DataFrame  # latest allocation
    drift: DriftSection | None = None
    paper: PaperSection | None = None


def render_html(data: ReportData) -> str:
    """The self-contained HTML report (plots inline) of `data`."""
    s = data.summary
    value = s.set_index(["strategy", "metric"])["value"]

    def get(metric: str, strategy: str = "ml_barbell") -> float:
        return float(value.get((strategy, metric), float("nan")))

    crit = data.criteria.assign(
        passed=data.criteria["passed"].map({True: "PASS", False: "FAIL"}).fillna("not measured").astype(str),
        measured=[_measured(r) for r in data.criteria.itertuples()],
    )
    crit_html = _table(crit[["criterion", "target", "measured", "passed", "detail"]])
    window = (
        int(data.rolling["window_days"].iat[0])
        if "window_days" in data.rolling and len(data.rolling)
        else ROLLING_WINDOW_DAYS
    )
    skill = skill_table(s)
    ml = data.daily[data.daily["strategy"] == "ml_barbell"]
    heat = (
        monthly_returns(ml.set_index(pd.to_datetime(ml["date"]))["net_return"]) if len(ml) else pd.DataFrame()
    )
    bench = data.daily[data.daily["strategy"] == "benchmark"]
    index_equity = bench.set_index(pd.to_datetime(bench["date"]))["equity"] if len(bench) else None
    sections = [
        (
            "Headline: the product vs 1/N vs the index, same days, net of costs",
            _headline(s) + _verdict(get) + _parts(get, product_of(s)),
        ),
        ("Equity", _img(plots.equity_png(data.daily), "equity curves")),
        (
            "Drawdown (underwater)",
            _img(plots.underwater_png(data.rolling), "underwater curves") + _stress_table(data.daily),
        ),
        ("Rolling Sharpe", _img(plots.rolling_sharpe_png(data.rolling, window), "rolling Sharpe")),
        (
            "Monthly returns of the ML barbell (%)",
            _img(plots.monthly_heatmap_png(heat, "Monthly net return, %"), "monthly heatmap")
            if len(heat)
            else "",
        ),
        (
            "Weights over time by sleeve",
            _img(plots.weights_png(data.allocations), "weights by sleeve") + _sleeve_note(data.allocations)
            if len(data.allocations)
            else "<p>No allocations.</p>",
        ),
        ("Regimes", _regimes_section(data, index_equity)),
        (
            "Forecast skill by horizon (out of sample) next to the base rate",
            _img(plots.skill_png(skill), "skill by horizon") + _table(skill)
            if skill["directional_accuracy"].notna().any()
            else "<p>No forecasts evaluated.</p>",
        ),
        ("Risk model: volatility forecasts against EWMA (out of sample)", _risk_section(s)),
        ("Feature drift of the model inputs (population stability index)", _drift(data.drift)),
        ("Paper trading", _paper(data.paper)),
        ("Skill, luck or overfitting?", _overfitting(get, data.variants)),
        (
            f"The seed's success criteria, judged on the product ({strategy_label(product, None)})"
            if (product := product_of(s))
            else "The seed's success criteria",
            crit_html,
        ),
        (
            "Latest allocation",
            _table(data.latest.assign(date=data.latest["date"].astype(str)))
            if len(data.latest)
            else "<p>None.</p>",
        ),
        ("Data caveats", _caveats(data.spans)),
    ]
    body = "".join(f"<h2>{html.escape(t)}</h2>{c}" for t, c in sections)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(data.title)}</title>
<style>body{{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1040px;margin:2em auto;
color:#222;line-height:1.4}} h1{{margin-bottom:0}}
h2{{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:1.8em}}
table{{border-collapse:collapse;margin:0.6em 0;font-size:0.9em}}
td,th{{border:1px solid #d0d0d0;padding:4px 8px}}
th{{background:#f3f3f3}} table.num td{{text-align:right}} table.num td:first-child{{text-align:left}}
td.pass{{background:#dff0d8;font-weight:bold}} td.fail{{background:#f2dede;font-weight:bold}}
td.na{{background:#fcf8e3}} img{{max-width:100%}} .note{{color:#555;font-size:0.9em}}</style></head><body>
<h1>{html.escape(data.title)}</h1><p class="note">{_period(data.daily)}</p>{body}</body></html>"""


def _headline(summary: pd.DataFrame) -> str:
    """Metric rows x strategy columns, each value in its metric's unit."""
    table = summary_table(summary)
    product = product_of(summary)
    head = "".join(f"<th>{html.escape(strategy_label(c, product))}</th>" for c in table.columns)
    rows = "".join(
        f"<tr><td>{html.escape(m)}</td>" + "".join(f"<td>{_fmt(m, v)}</td>" for v in row) + "</tr>"
        for m, row in zip(table.index, table.to_numpy().tolist(), strict=True)
    )
    return f"<table class='num'><thead><tr><th>metric</th>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _period(daily: pd.DataFrame) -> str:
    if daily.empty:
        return "No backtest."
    dates = pd.to_datetime(daily["date"])
    return (
        f"Backtest over {dates.min():%Y-%m-%d} .. {dates.max():%Y-%m-%d} "
        f"({daily['date'].nunique()} trading days). Allocations decided at the close of d earn d+1 onward."
    )


def _verdict(get) -> str:
    sr, ew, ix = get("sharpe"), get("sharpe", "equal_weight"), get("sharpe", "benchmark")
    if not math.isfinite(sr):
        return ""
    beats = "beats" if sr > ew else "does not beat"
    return (
        f"<p><b>{html.escape(ml_verdict(get))}</b></p>"
        f'<p class="note">The ML barbell\'s Sharpe ratio {sr:.2f} {beats} 1/N ({ew:.2f}); the index scores '
        f"{ix:.2f}; executed one session late it scores {get('sharpe', 'ml_barbell_lag1'):.2f}. The deflated "
        f"Sharpe (a probability that the true Sharpe is above what the best of "
        f"{get('trials'):.0f} unskilled tries would show) is {get('deflated_sharpe'):.0%}.</p>"
    )


def _parts(get, product: str | None) -> str:
    """Which ML parts earn their place (each vs the rule, p < 0.05) and the mode's inner-half choice."""
    lines = ablation_verdict(get)
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(t)}</li>" for t in lines)
    return (
        f"<p><b>Which parts of the ML earn their place</b> (each against the rule on the same days, "
        f"Ledoit-Wolf HAC p; a part earns its place only with p &lt; 0.05):</p><ul>{items}</ul>"
        f"<p>{html.escape(mode_choice(get, product))}</p>"
    )


def _measured(row) -> str:
    """A criterion's measured value in its own unit ($, plain ratio or %)."""
    unit = (
        "capacity_usd"
        if "capacity" in row.criterion
        else "sharpe"
        if "Sharpe" in row.criterion
        else "hit_rate"
    )
    return _fmt(unit, row.measured)
