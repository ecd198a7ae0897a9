"""Daily backtest: weights decided at the close of d earn the returns of d+1 onward, costs on turnover."""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.walk_forward import retrain_dates

TRADING_DAYS = 252


def rebalance_dates(decision_dates: pd.DatetimeIndex, frequency: str) -> pd.DatetimeIndex:
    """First decision date of each period (every decision date when daily)."""
    if frequency == "daily":
        return pd.DatetimeIndex(decision_dates)
    return retrain_dates(pd.DatetimeIndex(decision_dates), decision_dates.min().date(), frequency)


def simulate(targets: pd.DataFrame, returns: pd.DataFrame, rebalance_on: pd.DatetimeIndex,
             cost_bps: float) -> pd.DataFrame:
    """targets: date x asset target weights (rows on decision dates); returns: date x asset simple returns.

    Between rebalances the weights drift with prices. A trade at the close of d costs
    turnover * cost_bps / 1e4, charged to the return of d+1 (net = gross - cost).
    Missing returns count as 0 (the position is carried at its last price).
    """
    assets = targets.columns.union(returns.columns)
    days = returns.index[returns.index >= targets.index.min()]
    r = returns.reindex(index=days, columns=assets).fillna(0.0).to_numpy()
    tgt = targets.reindex(columns=assets).fillna(0.0)
    rebalance = set(pd.DatetimeIndex(rebalance_on)) & set(tgt.index)
    held = np.zeros(len(assets))
    rows = []
    pending_turnover = 0.0
    equity = 1.0
    for i, day in enumerate(days):
        if i > 0:
            gross = float(held @ r[i])
            cost = pending_turnover * cost_bps / 1e4
            net = gross - cost
            equity *= 1.0 + net
            rows.append((day, gross, net, pending_turnover, cost, equity))
            grown = held * (1.0 + r[i])
            held = grown / grown.sum() if grown.sum() > 0 else grown
            pending_turnover = 0.0
        if day in rebalance:
            target = tgt.loc[day].to_numpy()
            pending_turnover = float(np.abs(target - held).sum())
            held = target
    return pd.DataFrame(rows, columns=["date", "gross_return", "net_return", "turnover", "cost", "equity"])
