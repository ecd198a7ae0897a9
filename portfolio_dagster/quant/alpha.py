"""Alphas scaled by measured skill (Grinold): alpha = IC x volatility x score.

The ML forecast enters the expected return only through its cross-sectional score (per date: the
forecast's z-score across the names), times the information coefficient the model set measured on its
calibration window (out of sample for that set), times the name's forecast volatility over the horizon.
An IC at or below zero adds nothing, so a model without skill leaves the rule's expected return as it is
instead of adding noise. The risk side: the Kelly covariance keeps the trailing correlations and takes
its diagonal from the forecast volatilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cross_sectional_score(frame: pd.DataFrame, column: str = "prediction") -> pd.Series:
    """Per date, (x - mean) / std of `column` across the names (0 where a date has one name or no spread)."""
    grouped = frame.groupby("date")[column]
    mean, std = grouped.transform("mean"), grouped.transform("std", ddof=0)
    score = (frame[column] - mean) / std.where(std > 0)
    return score.fillna(0.0)


def skill_scaled_alpha(score, ic, volatility) -> np.ndarray:
    """score x max(IC, 0) x volatility, row by row (NaN IC or volatility: 0)."""
    ic = np.nan_to_num(np.maximum(np.asarray(ic, dtype=float), 0.0))
    return np.asarray(score, dtype=float) * ic * np.nan_to_num(np.asarray(volatility, dtype=float))


def with_skill_alpha(rule: pd.DataFrame, ml: pd.DataFrame) -> pd.DataFrame:
    """rule: ticker, date, expected_return (+ other columns, kept); ml: ticker, date, prediction, ic,
    volatility. The rule's expected return plus skill_scaled_alpha of the ML score where a forecast
    exists (a name without one keeps the rule's value)."""
    ml = ml.assign(score=cross_sectional_score(ml))
    ml = ml.assign(alpha=skill_scaled_alpha(ml["score"], ml["ic"], ml["volatility"]))
    out = rule.merge(ml[["ticker", "date", "alpha"]], on=["ticker", "date"], how="left")
    out["expected_return"] = out["expected_return"] + out.pop("alpha").fillna(0.0)
    return out


def covariance_with_volatility(covariance_h: np.ndarray, volatility_h: np.ndarray) -> np.ndarray:
    """The h-session covariance with its correlations kept and its standard deviations replaced by
    `volatility_h` where finite and positive (elsewhere the covariance's own)."""
    sd = np.sqrt(np.diag(covariance_h))
    corr = covariance_h / np.outer(sd, sd)
    vol = np.where(np.isfinite(volatility_h) & (volatility_h > 0), volatility_h, sd)
    return corr * np.outer(vol, vol)
