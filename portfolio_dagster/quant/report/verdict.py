"""The headline a quant reads first: does the ML add anything over the same strategy with ML off?"""

from __future__ import annotations

import math
from collections.abc import Callable


def ml_verdict(get: Callable[..., float]) -> str:
    """One sentence from backtest_summary values (`get(metric, strategy="ml_barbell")`): significantly
    better than the rule, not significantly better, or worse (Ledoit-Wolf p-value of the Sharpe
    difference)."""
    diff, p = get("sharpe_diff_vs_rule"), get("sharpe_diff_pvalue")
    if not math.isfinite(diff):
        return "What the ML adds was not measured (no rule-based ablation)."
    if diff < 0:
        word = "WORSE than the rule" + (" (significantly)" if p < 0.05 else " (not significantly)")
    else:
        word = "significantly better than the rule" if p < 0.05 else "NOT significantly better than the rule"
    return (
        f"The ML is {word}: Sharpe {get('sharpe'):.2f} vs {get('sharpe', 'rule_barbell'):.2f} for the same "
        f"barbell, controls and costs with ML off (difference {diff:+.2f}, Ledoit-Wolf p = {p:.3f})."
    )


# The parts of the ML, each tested against the rule on the same days (backtest_summary).
PARTS = (
    ("ml_risk_barbell", "the ML risk forecast with the rule's expected returns"),
    ("ml_alpha_barbell", "the skill-scaled ML alpha with trailing risk"),
    ("ml_barbell", "both parts, the ML barbell"),
    ("ml_barbell_lag1", "both parts executed one session late"),
)
SIGNIFICANCE = 0.05


def earns_its_place(diff: float, p: float) -> bool:
    """A part earns its place only with a higher Sharpe than the rule and p < 0.05 (two-sided HAC)."""
    return math.isfinite(diff) and math.isfinite(p) and diff > 0 and p < SIGNIFICANCE


def ablation_verdict(get: Callable[..., float]) -> list[str]:
    """One sentence per ML part (PARTS): its Sharpe against the rule's, the difference, the Ledoit-Wolf
    p-value and whether it earns its place (p < 0.05) or not, plainly."""
    rule = get("sharpe", "rule_barbell")
    out = []
    for strategy, label in PARTS:
        diff, p = get("sharpe_diff_vs_rule", strategy), get("sharpe_diff_pvalue", strategy)
        if not math.isfinite(diff):
            continue
        word = (
            "earns its place"
            if earns_its_place(diff, p)
            else "does NOT earn its place (worse than the rule)"
            if diff < 0
            else "does NOT earn its place (not significant at 5%)"
        )
        out.append(
            f"{label[0].upper()}{label[1:]} ({strategy}): Sharpe {get('sharpe', strategy):.2f} vs the rule's "
            f"{rule:.2f}, difference {diff:+.2f}, p = {p:.3f}: {word}."
        )
    return out


def mode_choice(get: Callable[..., float], product: str | None) -> str:
    """strategy.mode's choice on the inner (first) half of the backtest's days, and what the outer half
    then measured, good or bad; product: the strategy traded (is_product)."""
    ml_in, rule_in = get("sharpe_inner_half"), get("sharpe_inner_half", "rule_barbell")
    if not (math.isfinite(ml_in) and math.isfinite(rule_in)):
        return "The inner/outer split was not measured."
    pick = "ml" if ml_in > rule_in else "rule_based"
    configured = "ml" if product == "ml_barbell" else "rule_based" if product == "rule_barbell" else "?"
    diff_out, p_out = get("sharpe_diff_vs_rule_outer_half"), get("sharpe_diff_pvalue_outer_half")
    held = "held" if (diff_out > 0) == (pick == "ml") else "did NOT hold"
    return (
        f"strategy.mode on the inner half (the first half of the days): ML barbell Sharpe {ml_in:.2f} vs "
        f"the rule's {rule_in:.2f} (p = {get('sharpe_diff_pvalue_inner_half'):.3f}), which picks {pick}; "
        f"configured: {configured}. Outer half (not used for the choice): ML {get('sharpe_outer_half'):.2f} "
        f"vs rule {get('sharpe_outer_half', 'rule_barbell'):.2f} (difference {diff_out:+.2f}, "
        f"p = {p_out:.3f}), max drawdown {get('max_drawdown_outer_half'):.1%} vs "
        f"{get('max_drawdown_outer_half', 'rule_barbell'):.1%}: the choice {held} out of sample."
    )
