"""The reason codes of allocation rows (comma-separated in `reasons`) and what reads them back: the daily
controls in force per decision date and the share of dates under each control."""

from __future__ import annotations

import pandas as pd

# Reason codes (comma-separated in `reasons`).
CAPPED, BELOW_CONFIDENCE, NOT_PERSISTENT, KELLY_LIMITED = (
    "capped",
    "below_confidence",
    "not_persistent",
    "kelly_limited",
)
DRAWDOWN, EMERGENCY, TURNOVER = "drawdown_derisk", "emergency", "turnover_limited"
VOL_BREACH = "vol_breach"
REGIME, VOLATILITY, RULE, NO_CANDIDATES = "regime_derisk", "vol_derisk", "rule_based", "no_candidates"
LONG_DURATION, SHORT_DURATION, BOND_UNAVAILABLE = "long_duration", "short_duration", "bond_unavailable"
CONTROL_CODES = (
    EMERGENCY,
    DRAWDOWN,
    VOL_BREACH,
    TURNOVER,
    REGIME,
    VOLATILITY,
    KELLY_LIMITED,
    NO_CANDIDATES,
    RULE,
)
# Controls that change the target between scheduled rebalances (the book trades the session after).
DAILY_CONTROLS = (EMERGENCY, DRAWDOWN, VOL_BREACH)
# Codes of the scheduled policy: carried with it between rebalances (and read back when a range resumes).
POLICY_CODES = frozenset({TURNOVER, REGIME, VOLATILITY, KELLY_LIMITED, NO_CANDIDATES, RULE})


def daily_controls(alloc: pd.DataFrame, cash: str) -> pd.Series:
    """Per decision date, the daily controls in force ('' when none) from the cash row's reasons: a
    change between two dates is a new target between rebalances, which the trading rule trades."""
    day = alloc[alloc["ticker"] == cash].drop_duplicates("date")
    codes = (
        day["reasons"].fillna("").str.split(",").map(lambda r: ",".join(sorted(set(r) & set(DAILY_CONTROLS))))
    )
    return pd.Series(codes.to_numpy(), index=pd.DatetimeIndex(day["date"]), dtype=object)


def control_shares(alloc: pd.DataFrame, cash: str) -> dict[str, float]:
    """Share of decision dates under each control code (from the cash row's date-level reasons)."""
    day = alloc[alloc["ticker"] == cash].drop_duplicates("date")
    if day.empty:
        return {}
    codes = day["reasons"].str.split(",")
    return {c: float(codes.map(lambda r, code=c: code in r).mean()) for c in CONTROL_CODES}
