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
