"""The strategy variants tried, for PBO (CSCV) and the deflated Sharpe's trial count.

Each variant re-shapes the SAME target allocations (so the same forecasts and signals):
- top_k: keep only the k largest risky weights (None: all of them);
- weighting: "signal" keeps the allocation's relative risky weights, "equal" splits the risky
  sleeve equally among the kept names; either way the day's risky total is unchanged;
- rebalance: how often the book is traded back to the targets (daily, weekly, monthly).
The grid is 3 x 2 x 3 = 18 variants; the product's own configuration (all, signal, config's
rebalance) is one of them. The risky share is deliberately not varied: with the safe sleeve in cash
at 0%, scaling the risky sleeve scales returns and volatility alike and leaves the Sharpe ratio
unchanged, so those variants would be duplicates that only dilute PBO's ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TOP_K = (3, 5, None)
WEIGHTINGS = ("signal", "equal")
REBALANCES = ("daily", "weekly", "monthly")


@dataclass(frozen=True)
class Variant:
    """One strategy variant of the overfitting grid: top-k names, weighting and rebalance schedule."""

    top_k: int | None
    weighting: str
    rebalance: str

    @property
    def name(self) -> str:
        return f"top{self.top_k or 'all'}_{self.weighting}_{self.rebalance}"


def grid() -> list[Variant]:
    """Every variant of the grid (TOP_K x WEIGHTINGS x REBALANCES)."""
    return [Variant(k, w, r) for k in TOP_K for w in WEIGHTINGS for r in REBALANCES]


def reshape(targets: pd.DataFrame, safe_assets: list[str], variant: Variant) -> pd.DataFrame:
    """date x asset target weights -> the variant's targets; per date the risky and the safe totals
    are unchanged."""
    safe = [a for a in targets.columns if a in safe_assets]
    risky = targets.drop(columns=safe)
    values = risky.to_numpy(dtype=float).copy()
    total = values.sum(axis=1, keepdims=True)
    if variant.top_k is not None and variant.top_k < values.shape[1]:
        order = np.argsort(-values, axis=1, kind="stable")
        np.put_along_axis(values, order[:, variant.top_k :], 0.0, axis=1)
    if variant.weighting == "equal":
        values = (values > 0).astype(float)
    kept = values.sum(axis=1, keepdims=True)
    values = np.where(kept > 0, values * total / np.where(kept > 0, kept, 1.0), 0.0)
    out = pd.DataFrame(values, index=risky.index, columns=risky.columns)
    return pd.concat([out, targets[safe]], axis=1)
