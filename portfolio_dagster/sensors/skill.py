"""Rolling out-of-sample skill of forecasts against realized targets (pure pandas; no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio_dagster.quant.metrics import daily_rank_ic, directional_skill
from portfolio_dagster.resources.operations_state import EMERGENCY  # the action sets the state of that key

NONE, RETRAIN, RECOVERED = "none", "retrain", "recovered"


@dataclass(frozen=True)
class Skill:
    evidence_date: pd.Timestamp | None  # newest as-of date in the window (its target is realized)
    dates: int
    observations: int
    directional_accuracy: float  # share of rows whose forecast sign matches the realized sign
    base_rate: float  # share of up moves: what always calling "up" scores
    ic: float  # mean per-date Spearman rank correlation


def rolling_skill(pairs: pd.DataFrame, window_days: int) -> Skill:
    """`pairs`: date, ticker, prediction, realized (NaN realized rows are ignored)."""
    pairs = pairs.dropna(subset=["prediction", "realized"])
    # The window: the last dates with a realized move; skill and IC as in the evaluation (quant.metrics).
    dates = np.sort(pairs.loc[pairs["realized"] != 0, "date"].unique())[-window_days:]
    if len(dates) == 0:
        return Skill(None, 0, 0, math.nan, math.nan, math.nan)
    win = pairs[pairs["date"].isin(dates)]
    accuracy, base_rate, counted = directional_skill(win["prediction"], win["realized"])
    ics = daily_rank_ic(win)
    return Skill(
        pd.Timestamp(dates[-1]),
        len(dates),
        counted,
        accuracy,
        base_rate,
        float(ics.mean()) if len(ics) else math.nan,
    )


def decide(
    skill: Skill, retrain_below: float, emergency_below: float, min_ic: float, emergency_active: bool
) -> tuple[str, str, bool]:
    """(action, why, retrain): emergency below the emergency threshold, retrain on decayed accuracy or
    IC; `retrain` also while an emergency lasts and when it is lifted on skill still decayed (the
    emergency protects the book, only a retrain can restore the models)."""
    acc, ic = skill.directional_accuracy, skill.ic
    summary = (
        f"directional accuracy {acc:.3f} (base rate {skill.base_rate:.3f}), IC {ic:.3f} "
        f"over {skill.dates} dates / {skill.observations} forecasts to {skill.evidence_date:%Y-%m-%d}"
    )
    if acc < emergency_below:
        return EMERGENCY, f"{summary}: accuracy below the emergency threshold {emergency_below}", True
    if acc < retrain_below:
        action, why = RETRAIN, f"{summary}: accuracy below the retrain threshold {retrain_below}"
    elif np.isfinite(ic) and ic <= min_ic:
        action, why = RETRAIN, f"{summary}: IC at or below {min_ic}"
    else:
        action, why = NONE, f"{summary}: healthy"
    if emergency_active:
        # Skill is back above the emergency threshold: lift the safe-sleeve switch.
        return RECOVERED, why.replace("healthy", "recovered") + "; emergency lifted", action == RETRAIN
    return action, why, action == RETRAIN
