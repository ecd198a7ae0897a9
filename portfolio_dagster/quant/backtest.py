"""Vectorized daily backtest: weights decided at the close of d earn the returns of d+1 onward.

Conventions (the slow reference loop in tests/backtest_reference.py implements the same ones):
- A rebalance at the close of d trades the drifted book to the target weights; its cost is
  charged to the return of d+1: net = gross - cost. Costs are subtracted from the return, they do
  not change the weights.
- Between rebalances each holding drifts with its own price; weights summing to less than 1 leave
  the remainder in cash at 0%.
- Missing returns count as 0 (the position is carried at its last price).
- Rebalance schedule: the first decision date, then the LAST decision date of each period
  (month-end for monthly, week's last day for weekly). This reproduces DESIGN.md's 1/N reference.

Vectorization: within a holding period starting at the close of rebalance p, an asset's value is
w_p * exp(L_t - L_p) with L the cumulative log growth, so every day and asset is one array
expression; there is no loop over days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio_dagster.quant.costs import CostModel, ImpactInputs, impact_per_sqrt_aum, linear_cost
from portfolio_dagster.quant.metrics import sharpe

TRADING_DAYS = 252
_PERIOD = {"weekly": "W", "monthly": "M", "quarterly": "Q"}
DAILY_COLUMNS = ["date", "gross_return", "net_return", "turnover", "cost", "equity",
                 "linear_cost", "impact_cost"]


def rebalance_dates(decision_dates: pd.DatetimeIndex, frequency: str) -> pd.DatetimeIndex:
    """The first decision date plus the last decision date of each period (all of them when daily)."""
    days = pd.DatetimeIndex(decision_dates).unique().sort_values()
    if frequency == "daily" or days.empty:
        return days
    if frequency not in _PERIOD:
        raise ValueError(f"unknown rebalance frequency {frequency!r}")
    periods = pd.Series(days.to_period(_PERIOD[frequency]))
    last = periods.ne(periods.shift(-1)).to_numpy()
    last[0] = True
    return days[last]


@dataclass(frozen=True)
class BacktestResult:
    daily: pd.DataFrame                  # DAILY_COLUMNS; `date` is the day the return is earned
    holdings: pd.DataFrame               # date x asset weights held over that day (drifted)
    impact_per_sqrt_aum: pd.Series       # per return day: impact cost per sqrt(AUM in USD)
    impact_estimable: bool

    def net_at_aum(self, aum_usd: float) -> np.ndarray:
        """Daily net returns if the book were `aum_usd` (impact rescaled, everything else equal)."""
        d = self.daily
        return (d["gross_return"] - d["linear_cost"]).to_numpy() - \
            self.impact_per_sqrt_aum.to_numpy() * np.sqrt(aum_usd)


def simulate(targets: pd.DataFrame, returns: pd.DataFrame, rebalance_on: pd.DatetimeIndex,
             costs: CostModel, impact: ImpactInputs | None = None) -> BacktestResult:
    """targets: date x asset target weights (rows on decision dates); returns: date x asset simple
    returns, the days to simulate starting at the first decision date. Rows are earned days 2..T."""
    assets = targets.columns.union(returns.columns)
    days = returns.index[returns.index >= targets.index.min()]
    r = returns.reindex(index=days, columns=assets).to_numpy(dtype=float, na_value=np.nan)
    r = np.nan_to_num(r, nan=0.0)
    if (r <= -1.0).any():
        raise ValueError("a return of -100% or worse: prices must be positive")
    on = pd.DatetimeIndex(rebalance_on).intersection(targets.index).intersection(days)
    pos = np.sort(days.get_indexer(on))
    w = targets.reindex(index=days[pos], columns=assets).fillna(0.0).to_numpy(dtype=float)
    n_days = len(days)
    if n_days < 2 or len(pos) == 0:
        raise ValueError("nothing to backtest: need a rebalance and at least one later day")

    log_growth = np.cumsum(np.log1p(r), axis=0)          # L_t; row 0's value cancels out
    seg = np.searchsorted(pos, np.arange(n_days), side="right") - 1   # last rebalance <= t
    held = np.zeros((n_days, len(assets)))
    live = seg >= 0
    k = seg[live]
    values = w[k] * np.exp(log_growth[live] - log_growth[pos[k]])
    book = values.sum(axis=1, keepdims=True) + (1.0 - w[k].sum(axis=1, keepdims=True))
    held[live] = values / book                            # weights after the close of t

    # The book just before each rebalance: the previous period's weights drifted to that close.
    before = np.zeros_like(w)
    if len(pos) > 1:
        prev = w[:-1] * np.exp(log_growth[pos[1:]] - log_growth[pos[:-1]])
        prev_book = prev.sum(axis=1, keepdims=True) + (1.0 - w[:-1].sum(axis=1, keepdims=True))
        before[1:] = prev / prev_book
    trades = w - before
    trade_linear = linear_cost(trades, costs)
    if impact is not None:
        sigma = impact.sigma.reindex(index=days[pos], columns=assets).to_numpy(dtype=float, na_value=np.nan)
        adv = impact.adv_usd.reindex(index=days[pos], columns=assets).to_numpy(dtype=float, na_value=np.nan)
        trade_impact = impact_per_sqrt_aum(trades, sigma, adv, costs.impact_coefficient)
    else:
        trade_impact = np.zeros(len(pos))

    # Costs of a trade at the close of row p land on row p + 1 (dropped if p is the last day).
    charged = pos + 1 < n_days
    turnover = np.zeros(n_days)
    lin = np.zeros(n_days)
    imp = np.zeros(n_days)
    turnover[pos[charged] + 1] = np.abs(trades[charged]).sum(axis=1)
    lin[pos[charged] + 1] = trade_linear[charged]
    imp[pos[charged] + 1] = trade_impact[charged]

    gross = np.einsum("ij,ij->i", held[:-1], r[1:])
    impact_cost = imp[1:] * np.sqrt(costs.aum_usd)
    cost = lin[1:] + impact_cost
    net = gross - cost
    daily = pd.DataFrame({"date": days[1:], "gross_return": gross, "net_return": net,
                          "turnover": turnover[1:], "cost": cost, "equity": np.cumprod(1.0 + net),
                          "linear_cost": lin[1:], "impact_cost": impact_cost})
    holdings = pd.DataFrame(held[:-1], index=days[1:], columns=assets)
    return BacktestResult(daily=daily, holdings=holdings,
                          impact_per_sqrt_aum=pd.Series(imp[1:], index=days[1:]),
                          impact_estimable=impact is not None)


def equal_weight_targets(close: pd.DataFrame, decisions: pd.DatetimeIndex) -> pd.DataFrame:
    """1/N over the assets with a price at each decision date."""
    have = close.reindex(index=decisions).notna().astype(float)
    return have.div(have.sum(axis=1), axis=0).fillna(0.0)


def buy_and_hold_targets(asset: str, decisions: pd.DatetimeIndex) -> pd.DataFrame:
    """All in one asset (the index) from the first decision date, never traded again."""
    return pd.DataFrame({asset: [1.0]}, index=pd.DatetimeIndex(decisions[:1]))


def capacity_usd(result: BacktestResult, lower: float = 1e3, upper: float = 1e13) -> float:
    """AUM at which impact halves the impact-free Sharpe (NaN when impact is not estimable).

    The book is held at a constant size. 0 when the impact-free Sharpe is not positive (nothing to
    scale); `upper` when even that AUM keeps more than half of it.
    """
    if not result.impact_estimable or not result.impact_per_sqrt_aum.to_numpy().any():
        return float("nan")
    base = sharpe(result.net_at_aum(0.0))
    if not np.isfinite(base) or base <= 0:
        return 0.0
    target = base / 2

    def above(aum: float) -> bool:
        return sharpe(result.net_at_aum(aum)) > target

    if above(upper):
        return upper
    lo, hi = np.log(lower), np.log(upper)
    if not above(lower):
        return lower
    for _ in range(80):                     # bisection in log AUM: ~1e-10 relative
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if above(np.exp(mid)) else (lo, mid)
    return float(np.exp((lo + hi) / 2))
