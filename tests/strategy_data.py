"""Synthetic (labelled test data) markets for the strategy tests: random-walk closes, CASH and BOND
indices, regimes with arbitrary state names and signals with a chosen skill."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from portfolio_dagster.config import StrategyConfig
from portfolio_dagster.quant.allocation import MarketInputs
from portfolio_dagster.quant.signals import build_signals

HORIZON = 5


def market(
    n_days: int = 400,
    n_assets: int = 6,
    seed: int = 0,
    drift: float = 0.0004,
    vol: float = 0.015,
    bond: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2001-01-01", periods=n_days)
    tickers = [f"S{i}" for i in range(n_assets)]
    rets = rng.normal(drift, vol, (n_days, n_assets)) + rng.normal(0, vol / 2, (n_days, 1))
    close = pd.DataFrame(100 * np.exp(np.cumsum(rets, axis=0)), index=days, columns=tickers)
    safe = pd.DataFrame({"CASH": 100 * np.exp(np.arange(n_days) * 0.0001)}, index=days)
    if bond:
        safe["BOND"] = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.004, n_days)))
    states = ["quiet", "stormy", "meh"]
    probs = rng.dirichlet(np.ones(3), n_days)
    regimes = pd.DataFrame(
        {
            "date": days,
            "state": [states[i] for i in probs.argmax(axis=1)],
            "probabilities": [json.dumps(dict(zip(states, p.round(4).tolist(), strict=True))) for p in probs],
        }
    )
    return close, safe, regimes


def forecasts_from(close: pd.DataFrame, skill: float, seed: int = 1) -> pd.DataFrame:
    """Ensemble-shaped forecasts: `skill` times the realized forward return plus noise (future-looking on
    purpose: a test input, not a model); intervals of fixed width."""
    rng = np.random.default_rng(seed)
    fwd = (close.shift(-HORIZON) / close - 1).fillna(0.0)
    pred = skill * fwd + (1 - abs(skill)) * rng.normal(0.002, 0.02, fwd.shape)
    long = (
        pred.stack()
        .rename("prediction")
        .reset_index()
        .rename(columns={"level_0": "date", "level_1": "ticker"})
    )
    long.columns = ["date", "ticker", "prediction"]
    return long.assign(lower=long["prediction"] - 0.03, upper=long["prediction"] + 0.03)


def strategy(**overrides) -> StrategyConfig:
    base = dict(
        mode="ml",  # these markets carry ensemble-shaped forecasts: the ML barbell is what is tested
        signal_horizon=HORIZON,
        covariance_days=60,
        safe_assets=("CASH", "BOND"),
        persistence_days=1,
        vol_days=20,
        bond_momentum_days=20,
        drawdown_days=60,
        max_position=0.10,
    )
    return StrategyConfig(**(base | overrides))


def inputs(
    close, safe, regimes, forecasts, s: StrategyConfig, rebalance: str = "monthly", flag_from=None
) -> tuple[pd.DatetimeIndex, MarketInputs]:
    dates = close.index[120:]
    sig = build_signals(
        forecasts,
        close,
        close.index,
        mode=s.mode,
        horizon=s.signal_horizon,
        kelly_fraction=s.kelly_fraction,
        covariance_days=s.covariance_days,
    )
    return dates, MarketInputs(
        close=close,
        safe_close=safe,
        regimes=regimes,
        signals=sig,
        horizon=s.signal_horizon,
        accuracy_window=20,
        emergency_below=0.45,
        rebalance=rebalance,
        emergency_periods=((flag_from, None),) if flag_from else (),
    )
