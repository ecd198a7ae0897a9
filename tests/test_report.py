"""The HTML report: self-contained, every section and figure present, criteria and caveats shown."""

from __future__ import annotations

import base64
import re

import pandas as pd
import pytest
from test_backtest_evaluation import synthetic_inputs

from portfolio_dagster.quant.evaluation import evaluate
from portfolio_dagster.quant.report import ReportData, markdown_table, render_html, skill_table, summary_table
from portfolio_dagster.quant.report.verdict import ml_verdict

SECTIONS = (
    "Headline",
    "Equity",
    "Drawdown (underwater)",
    "Rolling Sharpe",
    "Monthly returns",
    "Weights over time by sleeve",
    "Regimes",
    "Forecast skill by horizon",
    "Skill, luck or overfitting?",
    "success criteria",
    "Latest allocation",
    "Data caveats",
)


@pytest.fixture(scope="module")
def page() -> str:
    inputs = synthetic_inputs(n_days=300)
    result = evaluate(inputs)
    alloc = inputs.allocations.assign(
        sleeve=lambda a: a["ticker"].map(lambda t: "safe" if t == "CASH" else "risky")
    )
    latest = alloc[alloc["date"] == alloc["date"].max()]
    return render_html(
        ReportData(
            title="Test <report>",
            summary=result.summary,
            daily=result.daily[["date", "strategy", "net_return", "equity"]],
            rolling=result.rolling.assign(window_days=252),
            allocations=alloc,
            regimes=inputs.regimes,
            regime_performance=result.regimes,
            criteria=result.criteria,
            variants=result.variants,
            spans=pd.DataFrame(
                {"ticker": ["S0"], "first": ["2008-01-01"], "last": ["2009-02-20"], "days": [300]}
            ),
            latest=latest,
        )
    )


def test_report_is_self_contained(page):
    assert not re.search(r"""(src|href)=["'](?!data:)""", page), "every resource must be inlined"
    assert "<script" not in page
    assert "Test &lt;report&gt;" in page  # text is escaped


def test_report_has_every_section_and_figure(page):
    for section in SECTIONS:
        assert section in page, section
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 7  # equity, underwater, rolling Sharpe, heatmap, sleeves, regimes, skill
    for data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_shows_criteria_verdicts_and_caveats(page):
    assert re.search(r'<td class="fail">FAIL</td>', page)
    assert re.search(r'<td class="na">not measured</td>', page)  # capacity without volume
    assert "survived to 2022" in page and "S0" in page and "2009-02-20" in page


def test_skill_table_reads_horizons_from_summary():
    summary = pd.DataFrame(
        {
            "strategy": "ml_barbell",
            "metric": [
                "directional_accuracy_5d",
                "base_rate_5d",
                "ic_5d",
                "directional_accuracy_21d",
                "base_rate_21d",
                "ic_21d",
                "rank_ic_21d",
                "ic_tstat_21d",
                "sharpe",
            ],
            "value": [0.55, 0.53, 0.02, 0.6, 0.57, 0.04, 0.03, 2.5, 1.0],
        }
    )
    table = skill_table(summary)
    assert table["horizon"].tolist() == [5, 21]
    assert table.set_index("horizon").loc[21].tolist() == pytest.approx([0.6, 0.57, 0.04, 0.03, 2.5])
    assert table.set_index("horizon").loc[5, ["rank_ic", "ic_tstat"]].isna().all()
    head = summary_table(pd.concat([summary, summary.assign(strategy="benchmark")]))
    assert list(head.columns) == ["ml_barbell", "benchmark"] and list(head.index) == ["sharpe"]


def test_markdown_table():
    text = markdown_table(pd.DataFrame({"a": ["x"], "b": [0.5]}))
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x | 0.5000 |"]


def _metric_lookup(values: dict[tuple[str, str], float]):
    """The verdicts' `get(metric, strategy="ml_barbell")` over (strategy, metric) -> value; NaN if absent."""
    return lambda metric, strategy="ml_barbell": values.get((strategy, metric), float("nan"))


@pytest.mark.parametrize(
    "diff,p,says",
    [
        (0.3, 0.01, "significantly better"),
        (0.1, 0.4, "NOT significantly better"),
        (-0.2, 0.6, "WORSE than the rule (not significantly)"),
        (-0.5, 0.001, "WORSE than the rule (significantly)"),
    ],
)
def test_the_headline_verdict_on_what_the_ml_adds(diff, p, says):
    values = {
        ("ml_barbell", "sharpe_diff_vs_rule"): diff,
        ("ml_barbell", "sharpe_diff_pvalue"): p,
        ("ml_barbell", "sharpe"): 0.8,
        ("rule_barbell", "sharpe"): 0.8 - diff,
    }
    text = ml_verdict(_metric_lookup(values))
    assert f"The ML is {says}" in text and f"p = {p:.3f}" in text
    assert "not measured" in ml_verdict(_metric_lookup({}))


def test_risk_table_and_section_say_where_the_risk_model_beats_ewma():
    from portfolio_dagster.quant.report.sections import _risk_section
    from portfolio_dagster.quant.report.tables import risk_table

    summary = pd.DataFrame(
        {
            "strategy": "ml_barbell",
            "metric": ["risk_qlike_5d", "risk_qlike_ewma_5d", "risk_dm_pvalue_5d"]
            + ["risk_qlike_21d", "risk_qlike_ewma_21d", "risk_dm_pvalue_21d", "ic_21d"],
            "value": [-6.1, -6.0, 0.30, -4.9, -4.7, 0.01, 0.04],
        }
    )
    table = risk_table(summary)
    assert table["horizon"].tolist() == [5, 21]
    assert table.set_index("horizon").loc[21].tolist() == pytest.approx([-4.9, -4.7, 0.01])
    assert "beats EWMA (lower QLIKE, DM p &lt; 0.05) at 21d." in _risk_section(summary)
    worse = summary.assign(value=[-6.1, -6.0, 0.30, -4.6, -4.7, 0.01, 0.04])
    assert "does not beat EWMA significantly" in _risk_section(worse)


def test_the_headline_names_which_ml_parts_earn_their_place_only_at_p_below_5_percent():
    from portfolio_dagster.quant.report.verdict import ablation_verdict

    values = {
        ("rule_barbell", "sharpe"): 0.80,
        ("ml_risk_barbell", "sharpe"): 1.10,
        ("ml_risk_barbell", "sharpe_diff_vs_rule"): 0.30,
        ("ml_risk_barbell", "sharpe_diff_pvalue"): 0.01,
        ("ml_alpha_barbell", "sharpe"): 0.95,
        ("ml_alpha_barbell", "sharpe_diff_vs_rule"): 0.15,
        ("ml_alpha_barbell", "sharpe_diff_pvalue"): 0.14,
        ("ml_barbell", "sharpe"): 0.70,
        ("ml_barbell", "sharpe_diff_vs_rule"): -0.10,
        ("ml_barbell", "sharpe_diff_pvalue"): 0.01,
    }
    lines = ablation_verdict(_metric_lookup(values))
    assert len(lines) == 3  # lag1 not measured: no line
    risk_line, alpha_line, both_line = lines
    assert "ml_risk_barbell" in risk_line and ": earns its place" in risk_line and "p = 0.010" in risk_line
    assert "does NOT earn its place (not significant at 5%)" in alpha_line and "+0.15" in alpha_line
    assert "does NOT earn its place (worse than the rule)" in both_line


def test_the_mode_choice_is_the_inner_half_and_the_outer_half_is_reported_good_or_bad():
    from portfolio_dagster.quant.report.verdict import mode_choice

    values = {
        ("ml_barbell", "sharpe_inner_half"): 1.0,
        ("rule_barbell", "sharpe_inner_half"): 0.7,
        ("ml_barbell", "sharpe_diff_pvalue_inner_half"): 0.09,
        ("ml_barbell", "sharpe_outer_half"): 0.6,
        ("rule_barbell", "sharpe_outer_half"): 0.9,
        ("ml_barbell", "sharpe_diff_vs_rule_outer_half"): -0.3,
        ("ml_barbell", "sharpe_diff_pvalue_outer_half"): 0.4,
        ("ml_barbell", "max_drawdown_outer_half"): -0.2,
        ("rule_barbell", "max_drawdown_outer_half"): -0.15,
    }
    text = mode_choice(_metric_lookup(values), "rule_barbell")
    assert "which picks ml; configured: rule_based" in text
    assert "difference -0.30" in text and "did NOT hold out of sample" in text
