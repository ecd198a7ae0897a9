"""The ML barbell: daily target weights from signals, with the risk controls, point in time.

Each decision date d (in order), using only data dated <= d:
1. the strategy's own return of d from the weights decided at d-1 (missing prices earn 0, as in the
   backtest), and its drawdown against the running peak of the last `drawdown_days`;
2. on a scheduled rebalance (the period's last session) a new POLICY target: candidates with
   expected_return > 0, confidence >= min_confidence and `persistence_days` positive signals in a
   row, the top_k by expected return; their composition from skfolio (risky_sleeve.py); the risky
   budget = min(barbell share from regime risk-off and volatility, the candidates' total Kelly size);
   water-filled under max_position; the rest to the safe sleeve (cash / bond by the duration call);
   then limited to max_turnover from the previous policy. Between rebalances the policy is carried;
   with a risk forecast (ML risk mode, quant/ml_risk.py) the volatility target and the composition's
   volatilities come from it instead of trailing volatility;
3. the daily controls on top of the policy: emergency (config switch, the operations emergency state
   in the periods it was in force, or live accuracy below operations.emergency_below) -> everything safe;
   drawdown beyond the trigger -> risky weights x drawdown_risky_scale; a risky sleeve above today's
   volatility-targeted share by more than vol_breach_tolerance -> cut to it (vol_breach); a bond
   without a recent price -> cash. The trading rule trades when these controls change.
Output rows: every held asset plus zero-weight rows that explain an exclusion; `policy_weight` is the
carried target before the daily controls (it is the state a later partition range resumes from).
Step 2's target is allocation_policy.py; the reason codes and what reads them, allocation_reasons.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from portfolio_dagster.quant import barbell, ml_risk, risk_controls
from portfolio_dagster.quant.allocation_policy import _policy_target
from portfolio_dagster.quant.allocation_reasons import (
    BOND_UNAVAILABLE,
    DAILY_CONTROLS,
    DRAWDOWN,
    EMERGENCY,
    LONG_DURATION,
    POLICY_CODES,
    SHORT_DURATION,
    TURNOVER,
    VOL_BREACH,
)

ALLOCATION_COLUMNS = ["date", "ticker", "weight", "sleeve", "reasons", "policy_weight"]
RISKY, SAFE = "risky", "safe"


class StrategyParams(Protocol):
    """The strategy settings allocate() reads. The config's `strategy` section provides them; the domain
    names what it needs instead of importing the config package."""

    signal_horizon: int
    kelly_fraction: float
    covariance_days: int
    max_position: float
    min_confidence: float
    risky_share: float
    top_k: int
    safe_assets: tuple[str, ...]
    persistence_days: int
    max_turnover: float
    vol_target: float
    vol_days: int
    regime_derisk: float
    bond_momentum_days: int
    bond_share_long: float
    bond_share_short: float
    drawdown_trigger: float
    drawdown_days: int
    drawdown_risky_scale: float
    vol_breach_tolerance: float
    emergency_stop: bool


@dataclass(frozen=True)
class MarketInputs:
    """close: date x ticker of the universe (dated <= the last decision date, with history before);
    safe_close: date x safe asset (may lack the bond, or be empty); regimes: date, state, probabilities."""

    close: pd.DataFrame
    safe_close: pd.DataFrame
    regimes: pd.DataFrame
    signals: pd.DataFrame  # SIGNAL_COLUMNS, dated <= the last decision date
    horizon: int
    accuracy_window: int  # operations.skill_window_days
    emergency_below: float  # operations.emergency_below
    rebalance: str  # backtest.rebalance
    # The operations emergency state's active periods [from, to) (to None: still active), point in time.
    emergency_periods: tuple[tuple[dt.date, dt.date | None], ...] = ()
    # ML risk mode: the chosen risk forecast at the horizon (ticker, date, volatility; the universe as
    # quant/risk.UNIVERSE), made at each close. None: trailing volatility everywhere (the rule).
    risk: pd.DataFrame | None = None


@dataclass(frozen=True)
class PriorState:
    """Where a partition range resumes: the last policy target before it and the final weights of the
    days before it (date x asset) for the drawdown's window. Empty: a fresh start."""

    policy: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    weights: pd.DataFrame = field(default_factory=pd.DataFrame)
    codes: frozenset[str] = frozenset()  # the last day's date-level reason codes


def _daily_inputs(
    market: MarketInputs, params: StrategyParams, dates: pd.DatetimeIndex, forecast_vol: pd.DataFrame
) -> pd.DataFrame:
    vol = barbell.market_volatility(market.close, params.vol_days)
    # Regime severities learn from trailing volatility in both modes; the volatility target takes the
    # universe's risk forecast in ML risk mode.
    risk_off = barbell.regime_risk_off(barbell.regime_probabilities(market.regimes), vol, dates)
    target_vol = ml_risk.forecast_market_volatility(forecast_vol, vol.reindex(dates))
    share = barbell.risky_share(
        params.risky_share,
        risk_off,
        target_vol,
        regime_derisk=params.regime_derisk,
        vol_target=params.vol_target,
    )
    cash_t, bond_t = _safe_tickers(params)
    bond = barbell.bond_share(
        market.safe_close[bond_t] if bond_t in market.safe_close else None,
        market.safe_close[cash_t] if cash_t in market.safe_close else None,
        dates,
        momentum_days=params.bond_momentum_days,
        long_share=params.bond_share_long,
        short_share=params.bond_share_short,
    )
    accuracy = risk_controls.live_accuracy(
        market.signals, market.close, market.horizon, market.accuracy_window
    ).reindex(dates)
    flag = np.zeros(len(dates), dtype=bool)
    for start, end in market.emergency_periods:
        flag |= (dates >= pd.Timestamp(start)) & ((dates < pd.Timestamp(end)) if end is not None else True)
    emergency = params.emergency_stop | flag | (accuracy < market.emergency_below).to_numpy()
    return pd.DataFrame(
        {
            "risky_share": share["share"].to_numpy(),
            "regime_cut": share["regime_cut"].to_numpy(),
            "vol_cut": share["vol_cut"].to_numpy(),
            "bond_share": bond["share"].to_numpy(),
            "bond_long": bond["long"].to_numpy(),
            "bond_available": bond["available"].to_numpy(),
            "accuracy": accuracy.to_numpy(),
            "emergency": emergency,
            "rebalance": risk_controls.rebalance_days(dates, market.rebalance),
        },
        index=dates,
    )


def _safe_tickers(params: StrategyParams) -> tuple[str, str | None]:
    return params.safe_assets[0], (params.safe_assets[1] if len(params.safe_assets) > 1 else None)


def allocate(
    dates: pd.DatetimeIndex, market: MarketInputs, params: StrategyParams, prior: PriorState | None = None
) -> pd.DataFrame:
    """Allocation rows (ALLOCATION_COLUMNS) for each of `dates` (sorted decision dates)."""
    dates = pd.DatetimeIndex(dates).sort_values()
    if dates.empty:
        return pd.DataFrame(columns=ALLOCATION_COLUMNS)
    prior = prior or PriorState()
    cash_t, bond_t = _safe_tickers(params)
    safe = [cash_t] + ([bond_t] if bond_t else [])
    universe = list(market.close.columns)
    assets = universe + [t for t in safe if t not in universe]
    col = {a: j for j, a in enumerate(assets)}
    forecast_vol = ml_risk.daily_forecast_volatility(market.risk, market.horizon)
    daily = _daily_inputs(market, params, dates, forecast_vol)
    prices = pd.concat(
        [market.close, market.safe_close.reindex(columns=[t for t in safe if t in market.safe_close])], axis=1
    )
    prices = prices.reindex(columns=assets)
    asset_returns = prices.ffill(limit=5).pct_change(fill_method=None).fillna(0.0)
    ret_pos = {d: i for i, d in enumerate(asset_returns.index)}
    returns_values = asset_returns.to_numpy()
    daily_returns = market.close.pct_change(fill_method=None)
    close_pos = {d: i for i, d in enumerate(daily_returns.index)}
    returns_values_universe = daily_returns.to_numpy()
    universe_col = {t: j for j, t in enumerate(daily_returns.columns)}
    sig = market.signals.assign(date=pd.to_datetime(market.signals["date"]))
    by_date = {d: g for d, g in sig.groupby("date", sort=False)}
    persist = risk_controls.persistent(sig, params.persistence_days) if len(sig) else pd.DataFrame()

    policy = prior.policy.reindex(assets).fillna(0.0).to_numpy() if len(prior.policy) else None
    policy_codes = set(prior.codes) & POLICY_CODES
    held, past_returns = _prior_returns(prior, asset_returns, assets, dates[0])
    risky_idx = np.array([col[t] for t in universe], dtype=int)
    days = daily.to_dict("records")
    rows: list[tuple] = []
    for d, today in zip(dates, days, strict=True):
        i = ret_pos.get(d)
        if held is not None and i is not None:
            past_returns.append(float(held @ returns_values[i]))
        drawdown = (
            risk_controls.trailing_drawdown(
                np.asarray(past_returns[-params.drawdown_days :]), params.drawdown_days
            )
            if past_returns
            else 0.0
        )
        notes: dict[str, set[str]] = {}
        if policy is None or today["rebalance"]:
            target, policy_codes, notes = _policy_target(
                d,
                by_date.get(d),
                persist,
                returns_values_universe,
                universe_col,
                close_pos,
                today,
                params,
                assets,
                col,
                forecast_vol if market.risk is not None else None,
            )
            if policy is not None:
                target, limited = risk_controls.limit_turnover(policy, target, params.max_turnover)
                if limited:
                    policy_codes.add(TURNOVER)
            policy = target
        codes = set(policy_codes)
        final = policy.copy()
        if today["emergency"]:
            final[risky_idx] = 0.0
            codes.add(EMERGENCY)
        elif drawdown <= -params.drawdown_trigger:
            final[risky_idx] *= params.drawdown_risky_scale
            codes.add(DRAWDOWN)
        risky_total = final[risky_idx].sum()
        if today["vol_cut"] and risky_total > today["risky_share"] * (1 + params.vol_breach_tolerance):
            # Market volatility rose past the target since the policy was set: cut the risky sleeve now.
            final[risky_idx] *= today["risky_share"] / risky_total
            codes.add(VOL_BREACH)
        final = _resplit_safe(final, today, col, cash_t, bond_t, codes)
        rows.extend(_rows(d, final, policy, assets, safe, codes, notes))
        held = final
    return pd.DataFrame(rows, columns=ALLOCATION_COLUMNS)


def _prior_returns(
    prior: PriorState, asset_returns: pd.DataFrame, assets: list[str], first: pd.Timestamp
) -> tuple[np.ndarray | None, list[float]]:
    """The held weights and realized daily strategy returns before `first` from the prior allocations."""
    w = prior.weights
    if w.empty:
        return None, []
    w = w.reindex(columns=assets).fillna(0.0).sort_index()
    w = w[w.index < first]
    if w.empty:
        return None, []
    rets = asset_returns.reindex(columns=assets)
    days = rets.index[(rets.index > w.index[0]) & (rets.index < first)]
    held = w.reindex(days.union(w.index)).ffill().shift(1).reindex(days).to_numpy()
    values = rets.loc[days].to_numpy()
    # Row by row with the same product as the daily loop, so a resumed range matches a full run bit for bit.
    past = [float(held[k] @ values[k]) for k in range(len(days))]
    return w.iloc[-1].to_numpy(), past


def _resplit_safe(
    final: np.ndarray, today, col, cash_t: str, bond_t: str | None, codes: set[str]
) -> np.ndarray:
    """The safe remainder split cash / bond by today's duration call (all cash without a bond price)."""
    safe_idx = [col[cash_t]] + ([col[bond_t]] if bond_t else [])
    risky_total = final.sum() - final[safe_idx].sum()
    safe_total = max(0.0, 1.0 - risky_total)
    final[safe_idx] = 0.0
    share = float(today["bond_share"]) if bond_t else 0.0
    if bond_t:
        final[col[bond_t]] = safe_total * share
        codes.add(
            BOND_UNAVAILABLE
            if not today["bond_available"]
            else LONG_DURATION
            if today["bond_long"]
            else SHORT_DURATION
        )
    final[col[cash_t]] = safe_total - (final[col[bond_t]] if bond_t else 0.0)
    return final


def _rows(d, final, policy, assets, safe, codes, notes) -> list[tuple]:
    out = []
    date_codes = ",".join(sorted(codes))
    for j, a in enumerate(assets):
        w, p = float(final[j]), float(policy[j])
        is_safe = a in safe
        why = notes.get(a, set())
        if not is_safe and w <= 0 and p <= 0 and not why:
            continue
        if is_safe and a != safe[0] and w <= 0 and p <= 0:
            continue
        reasons = date_codes if is_safe else ",".join(sorted(why | (codes & set(DAILY_CONTROLS))))
        out.append((d, a, max(w, 0.0), SAFE if is_safe else RISKY, reasons, max(p, 0.0)))
    return out
