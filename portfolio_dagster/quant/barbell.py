"""The barbell's ratios, point in time: how much goes to the risky sleeve, and how the safe sleeve
splits between cash and the long-duration bond proxy.

- Regime risk-off: the probability-weighted severity of the regime states. A state's severity is the
  rank of the average market volatility on the past days (<= d) it was the most likely state, so any
  state names work (calm/normal/volatile/crisis, bull/bear, ...); a state not yet seen counts 0.5.
- Risky share = risky_share x (1 - regime_derisk x risk_off) x min(1, vol_target / market vol).
- Duration from a rate forecast: trailing bond-over-cash return > 0 (yields falling or carry winning)
  forecasts falling rates: the long share of the safe sleeve goes to the bond, else the short share.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from portfolio_dagster.quant import calendar
from portfolio_dagster.quant.calendar import TRADING_DAYS

UNSEEN_SEVERITY = 0.5
# A cut is named in the reason codes when it takes more than 10% off the risky sleeve.
REASON_FACTOR = 0.9


def market_volatility(close: pd.DataFrame, days: int) -> pd.Series:
    """Annualized trailing volatility of the equal-weight universe's daily return."""
    market = close.pct_change(fill_method=None).mean(axis=1, skipna=True)
    return market.rolling(days, min_periods=max(5, days // 2)).std() * np.sqrt(TRADING_DAYS)


def regime_probabilities(regimes: pd.DataFrame) -> pd.DataFrame:
    """regimes (date, state, probabilities JSON) -> date x state probabilities (sorted state names)."""
    if regimes.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    rows = [json.loads(p) for p in regimes["probabilities"]]
    probs = pd.DataFrame(rows, index=pd.DatetimeIndex(pd.to_datetime(regimes["date"]), name="date")).fillna(
        0.0
    )
    states = sorted(set(probs.columns) | set(regimes["state"]))
    return probs.reindex(columns=states, fill_value=0.0).sort_index()


def regime_risk_off(probs: pd.DataFrame, market_vol: pd.Series, dates: pd.DatetimeIndex) -> pd.Series:
    """Probability-weighted severity per date in `dates` (NaN where no regime is known yet)."""
    if probs.empty:
        return pd.Series(np.nan, index=dates)
    # Severity learns from every regime date up to d (not just the decision dates), so the value at d
    # does not depend on where a partition range starts.
    days = probs.index.union(dates)
    out_dates, dates = dates, days
    probs = probs.reindex(days).ffill()
    vol = market_vol.reindex(days)
    top = probs.fillna(0.0).to_numpy().argmax(axis=1)
    known = probs.notna().all(axis=1).to_numpy() & vol.notna().to_numpy()
    n_states = probs.shape[1]
    onehot = np.zeros((len(dates), n_states))
    onehot[np.flatnonzero(known), top[known]] = 1.0
    vol_sum = np.cumsum(onehot * np.nan_to_num(vol.to_numpy())[:, None], axis=0)
    count = np.cumsum(onehot, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_vol = np.where(count > 0, vol_sum / count, np.nan)
    severity = np.full_like(mean_vol, UNSEEN_SEVERITY)
    for i, row in enumerate(mean_vol):
        seen = np.isfinite(row)
        if seen.sum() >= 2:
            severity[i, seen] = (rankdata(row[seen]) - 1) / (seen.sum() - 1)
    risk_off = (probs.fillna(0.0).to_numpy() * severity).sum(axis=1)
    return pd.Series(np.where(probs.notna().all(axis=1), risk_off, np.nan), index=dates).reindex(out_dates)


def risky_share(
    max_share: float, risk_off: pd.Series, market_vol: pd.Series, *, regime_derisk: float, vol_target: float
) -> pd.DataFrame:
    """Per date: share, and whether the regime or the volatility cut it (for the reason codes)."""
    regime_factor = 1.0 - regime_derisk * risk_off.fillna(UNSEEN_SEVERITY)
    vol_factor = (vol_target / market_vol).clip(upper=1.0).fillna(1.0)
    return pd.DataFrame(
        {
            "share": max_share * regime_factor * vol_factor,
            "regime_cut": regime_factor < REASON_FACTOR,
            "vol_cut": vol_factor < REASON_FACTOR,
        }
    )


def bond_share(
    bond_close: pd.Series | None,
    cash_close: pd.Series | None,
    dates: pd.DatetimeIndex,
    *,
    momentum_days: int,
    long_share: float,
    short_share: float,
    stale_days: int = 5,
) -> pd.DataFrame:
    """Per date: the bond's share of the safe sleeve (0 where the bond has no recent price) and whether
    the duration is long (rates forecast down)."""
    out = pd.DataFrame({"share": 0.0, "long": False, "available": False}, index=dates)
    if bond_close is None or bond_close.dropna().empty:
        return out
    bond = bond_close.reindex(bond_close.index.union(dates))
    # Staleness in exchange sessions (not rows: `dates` may be a few days long after years of history).
    position = pd.Series(calendar.session_positions(bond.index), index=bond.index, dtype=float)
    last_seen = position.where(bond.notna()).ffill()
    bond_ff = bond.ffill()
    momentum = bond_ff / bond_ff.shift(momentum_days) - 1
    if cash_close is not None and not cash_close.dropna().empty:
        cash = cash_close.reindex(bond.index).ffill()
        momentum = momentum - (cash / cash.shift(momentum_days) - 1).fillna(0.0)
    fresh = (position - last_seen) <= stale_days
    available = (fresh & momentum.notna()).reindex(dates).fillna(False).astype(bool)
    long = (momentum > 0).reindex(dates).fillna(False).astype(bool) & available
    out["available"] = available
    out["long"] = long
    out["share"] = np.where(available, np.where(long, long_share, short_share), 0.0)
    return out
