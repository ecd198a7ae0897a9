"""The evaluation of an allocation history: strategies on the same days, DESIGN.md metric names,
variants, regimes and the criteria table (synthetic prices, labelled as such)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.quant import criteria, variants
from portfolio_dagster.quant.costs import CostModel
from portfolio_dagster.quant.evaluation import EvaluationInputs, evaluate

DESIGN_METRICS = (
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
    "deflated_sharpe",
    "capacity_usd",
)


def synthetic_inputs(n_days: int = 400, seed: int = 0, **overrides) -> EvaluationInputs:
    """Synthetic closes for 8 stocks and an index, an allocation history with a safe sleeve, regimes."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2008-01-01", periods=n_days)
    names = [f"S{i}" for i in range(8)]
    close = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0.0004, 0.015, (n_days, 9)), axis=0)),
        index=days,
        columns=[*names, "IDX"],
    )

    def history(k: int) -> pd.DataFrame:
        rows = []
        for d in days[:-1]:
            chosen = rng.choice(names, k, replace=False)
            w = rng.dirichlet(np.ones(k)) * 0.8
            rows += [(d, t, float(x)) for t, x in zip(chosen, w, strict=True)] + [(d, "CASH", 0.2)]
        return pd.DataFrame(rows, columns=["date", "ticker", "weight"])

    alloc, rule = history(6), history(3)
    state = np.where(np.arange(n_days) % 50 < 20, "turbulent", "calm")
    regimes = pd.DataFrame(
        {
            "date": days,
            "state": state,
            "probabilities": [json.dumps({"calm": 0.5, "turbulent": 0.5})] * n_days,
        }
    )
    skill = pd.DataFrame(
        {
            "horizon": [1, 21],
            "directional_accuracy": [0.52, 0.58],
            "base_rate": [0.51, 0.60],
            "ic": [0.01, 0.03],
            "n": [100, 100],
            "rank_ic": [0.02, 0.04],
            "ic_tstat": [1.1, 2.3],
        }
    )
    args = dict(
        allocations=alloc,
        close=close,
        impact=None,
        regimes=regimes,
        skill=skill,
        benchmark="IDX",
        rule_allocations=rule,
        safe_assets=("CASH",),
        rebalance="monthly",
        costs=CostModel(10.0),
        configurations_tried=2,
        impact_note="not estimable: no volume",
    )
    return EvaluationInputs(**(args | overrides))


@pytest.fixture(scope="module")
def result():
    return evaluate(synthetic_inputs())


def test_every_strategy_over_the_same_days(result):
    daily = result.daily
    assert set(daily["strategy"]) == {
        "ml_barbell",
        "rule_barbell",
        "ml_barbell_lag1",
        "equal_weight",
        "benchmark",
    }
    dates = {s: tuple(g["date"]) for s, g in daily.groupby("strategy")}
    assert len(set(dates.values())) == 1
    bench = daily[daily["strategy"] == "benchmark"]
    # Bought once (sized at the decision's close, filled at the next: within the day's move of 100%).
    assert bench["cost"].sum() == 0 and bench["turnover"].iloc[1:].eq(0).all()
    assert bench["turnover"].iat[0] == pytest.approx(1.0, abs=0.05)


def test_summary_has_every_design_metric_and_skill_per_horizon(result):
    s = result.summary
    for strategy in ("ml_barbell", "rule_barbell", "ml_barbell_lag1", "equal_weight", "benchmark"):
        assert set(DESIGN_METRICS) <= set(s[s["strategy"] == strategy]["metric"])
    ml = s[s["strategy"] == "ml_barbell"].set_index("metric")["value"]
    for h in (1, 21):
        assert {
            f"directional_accuracy_{h}d",
            f"base_rate_{h}d",
            f"ic_{h}d",
            f"rank_ic_{h}d",
            f"ic_tstat_{h}d",
        } <= set(ml.index)
    assert ml["rank_ic_21d"] == 0.04 and ml["ic_tstat_21d"] == 2.3
    sharpe = s.set_index(["strategy", "metric"])["value"]
    assert ml["sharpe_diff_vs_rule"] == pytest.approx(
        sharpe["ml_barbell", "sharpe"] - sharpe["rule_barbell", "sharpe"]
    )
    assert 0 < ml["sharpe_diff_pvalue"] <= 1
    assert ml["base_rate_21d"] == pytest.approx(0.60)
    assert ml["configurations_tried"] == 2
    assert ml["trials"] == 2 * ml["variants_tried"] and 1 < ml["variants_tried"] <= 18
    assert 0 <= ml["pbo"] <= 1 and 0 <= ml["deflated_sharpe"] <= ml["probabilistic_sharpe"] <= 1
    assert np.isnan(ml["capacity_usd"]) and ml["impact_estimable"] == 0
    assert s.duplicated(["strategy", "metric"]).sum() == 0


def test_the_rule_ablation_shares_costs_and_trading_rule_with_the_product():
    """Rule allocations equal to the ML's: identical returns, a zero difference and p = 1."""
    inputs = synthetic_inputs(n_days=160)
    same = evaluate(EvaluationInputs(**(inputs.__dict__ | {"rule_allocations": inputs.allocations})))
    daily = same.daily.set_index(["strategy", "date"])["net_return"]
    np.testing.assert_array_equal(daily["rule_barbell"].to_numpy(), daily["ml_barbell"].to_numpy())
    ml = same.summary.query("strategy == 'ml_barbell'").set_index("metric")["value"]
    assert ml["sharpe_diff_vs_rule"] == 0 and ml["sharpe_diff_pvalue"] == 1


def test_each_ml_part_is_a_barbell_tested_against_the_rule():
    """ml_risk_barbell and ml_alpha_barbell are simulated like the rule and carry the Sharpe test against it:
    one equal to the rule's allocations differs by 0 with p = 1, one equal to the product's as ml_barbell."""
    inputs = synthetic_inputs(n_days=160)
    parts = {"ml_risk_barbell": inputs.rule_allocations, "ml_alpha_barbell": inputs.allocations}
    out = evaluate(EvaluationInputs(**(inputs.__dict__ | {"ablation_allocations": parts})))
    value = out.summary.set_index(["strategy", "metric"])["value"]
    assert value[("ml_risk_barbell", "sharpe_diff_vs_rule")] == 0
    assert value[("ml_risk_barbell", "sharpe_diff_pvalue")] == 1
    for metric in ("sharpe_diff_vs_rule", "sharpe_diff_pvalue", "sharpe"):
        assert value[("ml_alpha_barbell", metric)] == pytest.approx(value[("ml_barbell", metric)])
    assert "sharpe_diff_vs_rule" not in value["equal_weight"]


def test_lag1_executes_the_same_decisions_one_session_later(result):
    runs = result.runs
    ml, lag = runs["ml_barbell"], runs["ml_barbell_lag1"]
    assert list(ml.daily["date"]) == list(lag.daily["date"])
    first_ml = ml.daily.index[ml.daily["turnover"] > 0][0]
    first_lag = lag.daily.index[lag.daily["turnover"] > 0][0]
    assert first_lag == first_ml + 1
    # The book the lagged run holds after its first fill is the product's first target, a day later.
    np.testing.assert_allclose(
        lag.holdings().iloc[first_lag + 1].fillna(0).to_numpy(),
        ml.holdings().iloc[first_ml + 1].reindex(lag.holdings().columns).fillna(0).to_numpy(),
        atol=0.02,
    )


def test_rolling_and_regime_tables(result):
    roll = result.rolling
    assert set(roll["strategy"]) == {
        "ml_barbell",
        "rule_barbell",
        "ml_barbell_lag1",
        "equal_weight",
        "benchmark",
    }
    assert (roll["drawdown"] <= 0).all()
    reg = result.regimes
    ml = reg[reg["strategy"] == "ml_barbell"]
    assert set(ml["state"]) == {"calm", "turbulent"}
    assert ml["days"].sum() == len(result.runs["ml_barbell"].daily)


def test_variants_include_the_product_configuration(result):
    ml = result.runs["ml_barbell"].daily["net_return"].to_numpy()
    product = result.variants.set_index("variant").loc["topall_signal_monthly"]
    assert product["sharpe"] == pytest.approx(np.mean(ml) / np.std(ml, ddof=1) * np.sqrt(252))
    assert len(result.variants) == len(variants.grid()) == 18


def test_criteria_table_reports_every_criterion_measured_or_not(result):
    crit = result.criteria.set_index("criterion")
    assert len(crit) == 6
    assert pd.isna(crit.loc["capacity", "passed"]) and "no volume" in crit.loc["capacity", "detail"]
    assert crit.loc["directional accuracy across horizons", "measured"] == pytest.approx(0.52)
    assert crit.loc["directional accuracy across horizons", "passed"] == False  # noqa: E712 (1d fails)
    sharpe = result.summary.query("strategy == 'ml_barbell' and metric == 'sharpe'")["value"].iat[0]
    assert crit.loc["Sharpe ratio", "measured"] == pytest.approx(sharpe)
    assert crit.loc["Sharpe ratio", "passed"] == (sharpe > 1.2)
    # 2008-01-01.. covers the financial crisis window.
    assert np.isfinite(crit.loc["max drawdown in stress periods", "measured"])


def test_criteria_thresholds_pass_and_fail():
    skill = pd.DataFrame({"horizon": [5, 63], "directional_accuracy": [0.56, 0.61], "base_rate": [0.5, 0.6]})
    stress = pd.DataFrame({"period": ["a", "b"], "max_drawdown": [-0.05, -0.16]})
    regimes = pd.DataFrame({"state": ["calm", "turbulent"], "annual_return": [0.10, 0.12], "days": [10, 10]})
    table = criteria.criteria_table(
        {"sharpe": 1.3, "hit_rate": 0.51, "capacity_usd": 2e7}, skill, stress, regimes, "impact from volume"
    ).set_index("criterion")["passed"]
    assert table.to_dict() == {
        "directional accuracy across horizons": True,
        "Sharpe ratio": True,
        "max drawdown in stress periods": False,
        "hit rate": False,
        "capacity": True,
        "performance variance across regimes": True,
    }


def test_variant_reshape_keeps_sleeve_totals():
    days = pd.bdate_range("2010-01-01", periods=2)
    targets = pd.DataFrame(
        {"A": [0.4, 0.1], "B": [0.3, 0.2], "C": [0.1, 0.0], "CASH": [0.2, 0.7]}, index=days
    )
    top2 = variants.reshape(targets, ["CASH"], variants.Variant(2, "signal", "monthly"))
    assert top2.loc[days[0], "C"] == 0 and top2.loc[days[0], "A"] == pytest.approx(0.8 * 4 / 7)
    equal = variants.reshape(targets, ["CASH"], variants.Variant(None, "equal", "monthly"))
    assert equal.loc[days[1], ["A", "B", "C"]].tolist() == pytest.approx([0.15, 0.15, 0.0])
    for out in (top2, equal):
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
        np.testing.assert_array_equal(out["CASH"], targets["CASH"])


def test_a_missing_benchmark_is_a_one_line_error():
    inputs = synthetic_inputs(n_days=60)
    with pytest.raises(ValueError, match="benchmark 'NOPE' has no prices"):
        evaluate(EvaluationInputs(**(inputs.__dict__ | {"benchmark": "NOPE"})))
