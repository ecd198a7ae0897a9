"""Long-only allocations: a risky sleeve from the signals, the rest in the safe sleeve."""

from __future__ import annotations

import numpy as np
import pandas as pd


def cap_weights(raw: np.ndarray, total: float, cap: float) -> np.ndarray:
    """Scale non-negative `raw` to sum to at most `total` with no weight above `cap` (water-filling)."""
    w = np.zeros_like(raw, dtype=float)
    free = raw > 0
    budget = min(total, cap * free.sum())
    while free.any() and budget > 1e-15:
        share = raw[free] / raw[free].sum() * budget
        over = share > cap
        if not over.any():
            w[free] += share
            break
        idx = np.flatnonzero(free)[over]
        w[idx] = cap
        budget -= cap * over.sum()
        free[idx] = False
    return w


def allocate(signals: pd.DataFrame, *, max_position: float, min_confidence: float, risky_share: float,
             top_k: int, safe_asset: str) -> pd.DataFrame:
    """Per date: top-k positive, confident signals weighted by size and capped; the remainder is safe."""
    rows = []
    for date, day in signals.groupby("date", sort=True):
        eligible = day[(day["expected_return"] > 0) & (day["confidence"] >= min_confidence)
                       & (day["position_size"] > 0)]
        chosen = eligible.nlargest(top_k, "expected_return").sort_values("ticker")
        weights = cap_weights(chosen["position_size"].to_numpy(), risky_share, max_position)
        for ticker, w, raw in zip(chosen["ticker"], weights, chosen["position_size"]):
            if w > 0:
                reasons = "capped" if w < raw / chosen["position_size"].sum() * risky_share - 1e-12 else ""
                rows.append((date, ticker, float(w), "risky", reasons))
        below = int(((day["expected_return"] > 0) & (day["confidence"] < min_confidence)).sum())
        rows.append((date, safe_asset, float(1.0 - weights.sum()), "safe",
                     f"below_confidence={below}" if below else ""))
    return pd.DataFrame(rows, columns=["date", "ticker", "weight", "sleeve", "reasons"])
