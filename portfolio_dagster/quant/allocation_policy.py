"""The scheduled POLICY target at a rebalance (quant/allocation.py, step 2): the candidates, their
composition from skfolio (risky_sleeve.py), the risky budget and the water-filling under max_position."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from portfolio_dagster.quant import ml_risk
from portfolio_dagster.quant.allocation_reasons import (
    BELOW_CONFIDENCE,
    CAPPED,
    KELLY_LIMITED,
    NO_CANDIDATES,
    NOT_PERSISTENT,
    REGIME,
    RULE,
    VOLATILITY,
)
from portfolio_dagster.quant.risky_sleeve import composition
from portfolio_dagster.quant.signals import RULE_BASED

if TYPE_CHECKING:
    from portfolio_dagster.quant.allocation import StrategyParams

MIN_HISTORY_DAYS = 20  # daily returns a risky composition needs at the least


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
    return np.minimum(w, cap)


def _policy_target(
    d,
    day_signals,
    persist,
    daily_returns,
    daily_returns_col,
    close_pos,
    today,
    params: StrategyParams,
    assets,
    col,
    forecast_vol: pd.DataFrame | None = None,
) -> tuple[np.ndarray, set[str], dict[str, set[str]]]:
    """A fresh policy target at a rebalance: (weights over assets, date codes, per-ticker codes);
    forecast_vol (date x ticker daily forecast volatilities): the composition's volatilities."""
    target = np.zeros(len(assets))
    codes: set[str] = set()
    notes: dict[str, set[str]] = {}
    if today["regime_cut"]:
        codes.add(REGIME)
    if today["vol_cut"]:
        codes.add(VOLATILITY)
    chosen = pd.DataFrame()
    if day_signals is not None and len(day_signals):
        positive = day_signals[
            (day_signals["expected_return"] > 0) & day_signals["ticker"].isin(daily_returns_col)
        ]
        row = persist.loc[d] if d in persist.index else pd.Series(dtype=bool)
        ok_persist = positive["ticker"].map(row).fillna(False).astype(bool).to_numpy()
        confident = (positive["confidence"] >= params.min_confidence).to_numpy()
        for t in positive.loc[~confident, "ticker"]:
            notes.setdefault(t, set()).add(BELOW_CONFIDENCE)
        for t in positive.loc[confident & ~ok_persist, "ticker"]:
            notes.setdefault(t, set()).add(NOT_PERSISTENT)
        chosen = (
            positive[confident & ok_persist].nlargest(params.top_k, "expected_return").sort_values("ticker")
        )
        if (day_signals["source"] == RULE_BASED).any():
            codes.add(RULE)
    i = close_pos.get(d)
    if not len(chosen) or i is None or i + 1 < MIN_HISTORY_DAYS:
        codes.add(NO_CANDIDATES)
        target[col[params.safe_assets[0]]] = 1.0
        return target, codes, notes
    returns_cols = [daily_returns_col[t] for t in chosen["ticker"]]
    window = daily_returns[max(0, i + 1 - params.covariance_days) : i + 1][:, returns_cols]
    usable = np.isfinite(window).all(axis=0)
    if not usable.any():
        codes.add(NO_CANDIDATES)
    else:
        chosen = chosen[usable]
        budget = float(today["risky_share"])
        kelly_total = float(chosen["position_size"].clip(lower=0).sum())
        if kelly_total < budget:
            budget = kelly_total
            codes.add(KELLY_LIMITED)
        rule = (chosen["source"] == RULE_BASED).all()
        mu = None if rule else chosen["expected_return"].to_numpy() / params.signal_horizon
        comp = composition(
            window[:, usable],
            mu,
            max_weight=min(1.0, params.max_position / budget) if budget > 0 else 1.0,
            kelly_fraction=params.kelly_fraction,
            volatility_daily=(
                ml_risk.names_volatility(forecast_vol, d, chosen["ticker"])
                if forecast_vol is not None
                else None
            ),
        )
        weights = cap_weights(comp, budget, params.max_position)
        for t, w, c in zip(chosen["ticker"], weights, comp, strict=True):
            target[col[t]] = w
            if w < budget * c - 1e-9:
                notes.setdefault(t, set()).add(CAPPED)
    target[col[params.safe_assets[0]]] = max(0.0, 1.0 - target.sum())
    return target, codes, notes
