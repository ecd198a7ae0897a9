"""The self-contained HTML report a PM reads: every figure inlined as a PNG data URI, no external files."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass

import pandas as pd

from portfolio_dagster.quant.calendar import TRADING_DAYS
from portfolio_dagster.quant.criteria import STRESS_PERIODS
from portfolio_dagster.quant.drift import ABSOLUTE, drifted
from portfolio_dagster.quant.evaluation import PRODUCT_METRIC
from portfolio_dagster.quant.metrics import ROLLING_WINDOW_DAYS, monthly_returns, window_drawdowns
from portfolio_dagster.quant.report import plots
from portfolio_dagster.quant.report.verdict import ablation_verdict, ml_verdict, mode_choice

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
CAVEATS = (
    "Survivorship: the bundled sample's 20 stocks are the ones that survived to 2022 as large caps. "
    "Every strategy on it, 1/N included, is flattered; the names that failed or left the index are missing.",
    "Returns are net of the configured transaction costs; Sharpe ratios use a zero risk-free rate.",
    "Forecast skill is out of sample (walk-forward with purge and embargo) and shown next to the base rate: "
    "in a rising market, 'always up' already scores above 50%.",
    "Market impact needs volume; where the prices are close-only it is not estimable and capacity is not "
    "measured (see the criteria table).",
)


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


def _risk_section(summary: pd.DataFrame) -> str:
    table = risk_table(summary)
    if table.empty:
        return "<p>No risk forecasts evaluated.</p>"
    beats = table[(table["risk_qlike"] < table["risk_qlike_ewma"]) & (table["risk_dm_pvalue"] < 0.05)]
    where = ", ".join(f"{h}d" for h in beats["horizon"])
    verdict = (
        f"The chosen risk forecast beats EWMA (lower QLIKE, DM p &lt; 0.05) at {where}."
        if len(beats)
        else "The chosen risk forecast does not beat EWMA significantly at any horizon."
    )
    note = (
        '<p class="note">QLIKE = log f + y / f (Patton 2011; lower is better) of the h-session variance, '
        "names only; DM: two-sided Diebold-Mariano on per-date loss differences, Newey-West.</p>"
    )
    return f"<p>{verdict}</p>" + _table(table, {c: "risk" for c in table.columns if c != "horizon"}) + note


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


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


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


def _stress_table(daily: pd.DataFrame) -> str:
    """Max drawdown of each strategy inside each stress period the backtest covers."""
    columns = {}
    for strategy, rows in daily.groupby("strategy"):
        net = rows.set_index(pd.to_datetime(rows["date"]))["net_return"].sort_index()
        columns[plots.LABELS.get(strategy, strategy)] = window_drawdowns(net, STRESS_PERIODS).set_index(
            "period"
        )["max_drawdown"]
    table = pd.DataFrame(columns)
    if table.empty:
        return ""
    spans = {name: f"{first}..{last}" for name, first, last in STRESS_PERIODS}
    table = table.reindex(columns=[c for c in ("ML barbell", "1/N", "index") if c in table]).reset_index(
        names="period"
    )
    table.insert(1, "window", table["period"].map(spans))
    return (
        '<p class="note">Max drawdown inside each stress period (S&amp;P 500 peak to trough), equity '
        "restarted "
        "at the period's start:</p>"
        + _table(table, formats={c: "max_drawdown" for c in table.columns[2:]}, cls="num")
    )


def _sleeve_note(allocations: pd.DataFrame) -> str:
    totals = allocations.groupby(["date", "sleeve"])["weight"].sum().unstack(fill_value=0.0)
    parts = ", ".join(
        f"{name} {totals[name].mean():.0%} (range {totals[name].min():.0%}..{totals[name].max():.0%})"
        for name in totals.columns
    )
    return f'<p class="note">Average sleeve weights: {html.escape(parts)}.</p>'


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


def _overfitting(get, variants: pd.DataFrame) -> str:
    text = (
        "<p>Probabilistic Sharpe (P[true Sharpe &gt; 0]): "
        f"<b>{_fmt('pbo', get('probabilistic_sharpe'))}</b>. "
        f"Deflated Sharpe for {get('trials'):.0f} trials ({get('configurations_tried'):.0f} model "
        "configuration(s) "
        f"x {get('variants_tried'):.0f} distinct strategy variants): "
        f"<b>{_fmt('pbo', get('deflated_sharpe'))}</b>. "
        f"Probability of backtest overfitting (CSCV, 16 blocks): <b>{_fmt('pbo', get('pbo'))}</b> "
        "(above 50%: the variant that looks best in sample is more likely than not below median out of "
        "sample).</p><p class='note'>Variants: the same allocations with only the top 3 / 5 / all risky "
        "names, weighted as allocated or equally, rebalanced daily, weekly or monthly. No model is "
        "re-fitted: every variant uses the same out-of-sample forecasts.</p>"
    )
    if len(variants):
        top = variants.sort_values("sharpe", ascending=False)
        text += _table(top[["variant", "annual_return", "sharpe", "max_drawdown"]], cls="num")
    return text


def _drift(drift: DriftSection | None) -> str:
    if drift is None or drift.table.empty:
        return f"<p>{html.escape(drift.caption if drift else 'Not measured.')}</p>"
    flags = drifted(drift.table, drift.threshold, drift.rule)
    over = drift.table[flags]
    rule = f"PSI &gt; {drift.threshold:g}" + (
        " and beyond every training window" if drift.rule != ABSOLUTE else ""
    )
    verdict = (
        f"<b>{len(over)} of {len(drift.table)} inputs drifted</b> ({rule}): "
        f"{html.escape(', '.join(over['feature']))}."
        if len(over)
        else f"No input drifted ({rule}; {len(drift.table)} inputs)."
    )
    shown = drift.table.assign(check=flags.map({True: "FAIL", False: "PASS"})).head(10)
    return (
        f"<p>{verdict}</p><p class='note'>{html.escape(drift.caption)} PSI &lt; 0.1: stable; 0.1-0.2: "
        "moderate; above 0.2: the inputs no longer look like the training data. <i>training windows</i>: "
        "the median and largest PSI of the training period's own windows of the same length against it: "
        "slow inputs (a 252-day volatility, a beta) score high there too, with no drift.</p>"
        + _table(
            shown[
                [
                    "feature",
                    "psi",
                    "baseline_median",
                    "baseline_max",
                    "train_median",
                    "recent_median",
                    "check",
                ]
            ].rename(
                columns={"baseline_median": "training windows median", "baseline_max": "training windows max"}
            ),
            formats={
                c: "ic"
                for c in (
                    "psi",
                    "training windows median",
                    "training windows max",
                    "train_median",
                    "recent_median",
                )
            },
            cls="num",
        )
    )


def _paper(paper: PaperSection | None) -> str:
    if paper is None or paper.account.empty:
        return "<p>No paper session booked yet: <code>pmx replay</code> or the daily schedule books them.</p>"
    a = paper.account
    last = a.iloc[-1]
    both = a.dropna(subset=["daily_return", "backtest_return"])
    tracking = both["daily_return"] - both["backtest_return"]
    corr = both["daily_return"].corr(both["backtest_return"]) if len(both) > 2 else float("nan")
    facts = (
        (
            f"<p>{len(a)} sessions, {a['date'].iat[0]} to {last['date']}: NAV <b>${last['nav_usd']:,.0f}</b> "
            f"(cash ${last['cash_usd']:,.0f}); tracking difference vs the backtest's ml_barbell "
            f"{tracking.sum() * 100:+.2f} pp cumulative, "
            f"{tracking.std() * math.sqrt(TRADING_DAYS) * 100:.2f}% annualized "
            f"tracking error, daily correlation {corr:.3f}. The ledger trades whole shares from its own "
            "start; "
            "the backtest trades fractional shares from backtest.start.</p>"
        )
        if len(both)
        else f"<p>{len(a)} session(s): NAV <b>${last['nav_usd']:,.0f}</b>.</p>"
    )
    orders = paper.orders.assign(date=paper.orders["date"].astype(str)) if len(paper.orders) else paper.orders
    return (
        facts
        + (_img(plots.paper_png(a), "paper NAV vs backtest shadow vs index") if len(a) > 1 else "")
        + f"<h3>Orders decided at the close of {last['date']} (fill next session)</h3>"
        + (_table(orders, cls="num") if len(orders) else "<p>None: the book holds.</p>")
        + f"<h3>Holdings after the close of {last['date']}</h3>"
        + (
            _table(paper.positions.assign(date=paper.positions["date"].astype(str)), cls="num")
            if len(paper.positions)
            else "<p>None (all cash).</p>"
        )
    )


def _regimes_section(data: ReportData, index_equity: pd.Series | None) -> str:
    if data.regimes.empty:
        return "<p>No regimes.</p>"
    reg = data.regimes.assign(date=pd.to_datetime(data.regimes["date"]))
    png = plots.regime_timeline_png(reg.set_index("date")["state"], index_equity)
    perf = data.regime_performance.copy()
    perf["strategy"] = perf["strategy"].map(lambda v: plots.LABELS.get(v, v))
    table = perf[["strategy", "state", "days", "annual_return", "annual_volatility", "sharpe", "hit_rate"]]
    return (
        _img(png, "regime timeline")
        + _table(
            table.rename(columns={"annual_return": "mean return/yr"}),
            formats={"mean return/yr": "annual_return"},
            cls="num",
        )
        + (
            '<p class="note">Each day is assigned the state known at the previous close, when its '
            "position was decided; the mean daily return x 252 is compared across states.</p>"
        )
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


def _caveats(spans: pd.DataFrame) -> str:
    items = "".join(f"<li>{html.escape(c)}</li>" for c in CAVEATS)
    span_html = ""
    if len(spans):
        grouped = (
            spans.assign(first=spans["first"].astype(str), last=spans["last"].astype(str))
            .groupby(["first", "last", "days"], as_index=False)
            .agg(series=("ticker", lambda t: ", ".join(sorted(t))))
        )
        span_html = (
            "<p>Series spans in the warehouse (no value is invented past a series' end):</p>"
            + _table(grouped[["series", "first", "last", "days"]])
        )
    return f"<ul>{items}</ul>{span_html}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (Dagster renders it in the UI)."""

    def cell(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
