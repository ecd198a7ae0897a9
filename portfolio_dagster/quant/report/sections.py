"""The report's sections past the headline, each an HTML fragment: the risk model against EWMA, the
stress-period drawdowns, the sleeves, the regimes, skill or overfitting, feature drift, paper trading and
the data caveats."""

from __future__ import annotations

import base64
import html
import math
from typing import TYPE_CHECKING

import pandas as pd

from portfolio_dagster.quant.calendar import TRADING_DAYS
from portfolio_dagster.quant.criteria import STRESS_PERIODS
from portfolio_dagster.quant.drift import ABSOLUTE, drifted
from portfolio_dagster.quant.metrics import window_drawdowns
from portfolio_dagster.quant.report import plots
from portfolio_dagster.quant.report.tables import _fmt, _table, risk_table

if TYPE_CHECKING:
    from portfolio_dagster.quant.report.html import DriftSection, PaperSection, ReportData

CAVEATS = (
    "Survivorship: the bundled sample's 20 stocks are the ones that survived to 2022 as large caps. "
    "Every strategy on it, 1/N included, is flattered; the names that failed or left the index are missing.",
    "Returns are net of the configured transaction costs; Sharpe ratios use a zero risk-free rate.",
    "Forecast skill is out of sample (walk-forward with purge and embargo) and shown next to the base rate: "
    "in a rising market, 'always up' already scores above 50%.",
    "Market impact needs volume; where the prices are close-only it is not estimable and capacity is not "
    "measured (see the criteria table).",
)


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


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


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
