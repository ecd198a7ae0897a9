"""Daily backtest of a target-weight history through the one trading rule (quant/trading.py).

Conventions (the reference loop in tests/backtest_reference.py implements the same ones):
- Target weights decided at the close of d are turned into share orders at d's closes and fill on
  the next session (its open where the data has opens, else its close): a decision at d earns from
  the fill on d+1 onward. The book is shares + cash; costs come out of cash at the fill.
- The book trades on the first decision, on each scheduled rebalance (`rebalance_dates`: the first
  decision date, then the LAST decision date of each period), when the daily controls in force change
  (the allocation's emergency / drawdown / volatility codes) and when a capped holding drifts over
  its cap; in between, share counts are fixed and weights drift with prices.
- A missing price keeps the last known close (the holding earns 0 that day).
- Row `date` of the daily table is a session after the first decision: its return is the NAV's
  change from the previous close, net of the costs paid that day; gross adds those costs back.
The only loop is over trade events (quant/trading.run_book); valuations are array expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio_dagster.quant.costs import CostModel, ImpactInputs
from portfolio_dagster.quant.metrics import sharpe
from portfolio_dagster.quant.trading import Book, BookRun, Decisions, Market, TradingRule, run_book

_PERIOD = {"weekly": "W", "monthly": "M", "quarterly": "Q"}
DAILY_COLUMNS = [
    "date",
    "gross_return",
    "net_return",
    "turnover",
    "cost",
    "equity",
    "linear_cost",
    "impact_cost",
]
DEFAULT_CAPITAL_USD = 1_000_000.0


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
    """One simulated strategy: its daily returns and costs, and the book (shares, cash, NAV) behind them."""

    daily: pd.DataFrame  # DAILY_COLUMNS; `date` is the day the return is earned
    book: BookRun  # shares, cash and NAV after each close (row 0: the first decision)
    days: pd.DatetimeIndex  # the rows of `book`
    assets: list[str]
    close: np.ndarray  # last known closes on those rows (the valuation prices)
    impact_per_sqrt_aum: pd.Series  # per return day: impact cost per sqrt(AUM in USD)
    impact_estimable: bool

    def net_at_aum(self, aum_usd: float) -> np.ndarray:
        """Daily net returns if the book were `aum_usd` (impact rescaled, everything else equal)."""
        d = self.daily
        return (
            d["gross_return"] - d["linear_cost"]
        ).to_numpy() - self.impact_per_sqrt_aum.to_numpy() * np.sqrt(aum_usd)

    def holdings(self) -> pd.DataFrame:
        """date x asset weights after each close (the rows of `book`)."""
        values = self.book.quantity * np.nan_to_num(self.close, nan=0.0)
        return pd.DataFrame(values / self.book.nav[:, None], index=self.days, columns=self.assets)


def market_panels(
    close: pd.DataFrame,
    days: pd.DatetimeIndex,
    assets: list[str],
    open_: pd.DataFrame | None = None,
    impact: ImpactInputs | None = None,
) -> Market:
    """The trading rule's price panels over `days`: last known closes (carried from any earlier row
    of `close`), the session's fill price (open, else close) and the impact inputs at each close."""
    raw = close.reindex(columns=assets)
    if (raw.to_numpy(dtype=float, na_value=np.nan) <= 0).any():
        raise ValueError("a non-positive price: prices must be positive")
    last = raw.ffill().reindex(days).to_numpy(dtype=float, na_value=np.nan)
    fill = raw.reindex(days).to_numpy(dtype=float, na_value=np.nan)
    if open_ is not None:
        opens = open_.reindex(index=days, columns=assets).to_numpy(dtype=float, na_value=np.nan)
        fill = np.where(np.isfinite(opens) & (opens > 0), opens, fill)
    sigma = adv = None
    if impact is not None:
        sigma = impact.sigma.reindex(index=days, columns=assets).to_numpy(dtype=float, na_value=np.nan)
        adv = impact.adv_usd.reindex(index=days, columns=assets).to_numpy(dtype=float, na_value=np.nan)
    return Market(close=last, fill=fill, sigma=sigma, adv=adv)


def simulate(
    targets: pd.DataFrame,
    close: pd.DataFrame,
    rebalance_on: pd.DatetimeIndex,
    rule: TradingRule | CostModel,
    impact: ImpactInputs | None = None,
    open_: pd.DataFrame | None = None,
    controls: pd.Series | None = None,
    capped: list[str] | None = None,
    capital_usd: float | None = None,
) -> BacktestResult:
    """targets: date x asset weights decided at those closes; close (and optionally open_): date x
    asset prices, the sessions to simulate from the first decision on (earlier rows only carry last
    prices). controls: per decision date, the daily controls in force (a change trades); capped:
    the assets the rule's drift cap applies to. capital_usd: the starting cash (default: the cost
    model's AUM)."""
    if isinstance(rule, CostModel):
        rule = TradingRule(rule)
    first = targets.index.min()
    days = close.index[close.index >= first]
    if len(days) < 2 or first not in days:
        raise ValueError("nothing to backtest: need a decision on a priced session and a later day")
    assets = list(targets.columns.union(close.columns))
    market = market_panels(close, days, assets, open_, impact)
    decided = days.isin(targets.index)
    target = targets.reindex(index=days, columns=assets).fillna(0.0).to_numpy(dtype=float)
    target[~decided] = np.nan  # rows without a decision
    decisions = Decisions(
        target=target,
        scheduled=days.isin(pd.DatetimeIndex(rebalance_on)),
        control=(
            controls.reindex(days).fillna("").astype(str).to_numpy()
            if controls is not None
            else np.full(len(days), "", dtype=object)
        ),
        capped=np.isin(assets, capped or []),
    )
    capital = capital_usd or (rule.costs.aum_usd if rule.costs.aum_usd > 0 else DEFAULT_CAPITAL_USD)
    run = run_book(market, decisions, rule, Book(np.zeros(len(assets)), float(capital)))
    return _result(run, days, assets, market, impact is not None)


def _result(
    run: BookRun, days: pd.DatetimeIndex, assets: list[str], market: Market, estimable: bool
) -> BacktestResult:
    nav = run.nav
    prev = nav[:-1]
    net = nav[1:] / prev - 1.0
    lin = run.linear_usd[1:] / prev
    imp = run.impact_usd[1:] / prev
    daily = pd.DataFrame(
        {
            "date": days[1:],
            "gross_return": net + lin + imp,
            "net_return": net,
            "turnover": run.traded_usd[1:] / prev,
            "cost": lin + imp,
            "equity": nav[1:] / nav[0],
            "linear_cost": lin,
            "impact_cost": imp,
        }
    )
    return BacktestResult(
        daily=daily,
        book=run,
        days=days,
        assets=assets,
        close=market.close,
        impact_per_sqrt_aum=pd.Series(run.impact_per_sqrt_nav[1:], index=days[1:]),
        impact_estimable=estimable,
    )


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
    for _ in range(80):  # bisection in log AUM: ~1e-10 relative
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if above(np.exp(mid)) else (lo, mid)
    return float(np.exp((lo + hi) / 2))
