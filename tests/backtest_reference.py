"""An independent, deliberately slow event-loop backtester: the reference the vectorized one must match.

Same conventions as portfolio_dagster.quant.backtest (trade at the close of d, cost charged to d+1,
drift between rebalances, remainder of the weights in cash at 0%), written day by day and asset by
asset in plain Python floats so it shares no code or array tricks with the product.
"""

from __future__ import annotations

import math


def reference_backtest(days, assets, returns, targets, rebalance_on, commission_bps, half_spread_bps,
                       impact_coefficient=0.0, aum_usd=0.0, sigma=None, adv_usd=None):
    """days: list of dates; returns[day][asset] (missing = 0); targets[day][asset] on decision days;
    rebalance_on: set of days; sigma/adv_usd[day][asset] for impact (optional).
    Returns a list of (date, gross, net, turnover, cost, equity) for days[1:]."""
    holdings = {a: 0.0 for a in assets}       # dollar value of each asset; the rest is cash
    cash = 0.0
    equity = 1.0
    pending_turnover = 0.0
    pending_cost = 0.0
    rows = []
    for i, day in enumerate(days):
        if i > 0:
            start_value = sum(holdings.values()) + cash
            for a in assets:
                holdings[a] *= 1.0 + returns.get(day, {}).get(a, 0.0)
            end_value = sum(holdings.values()) + cash
            gross = end_value / start_value - 1.0 if start_value else 0.0
            net = gross - pending_cost
            equity *= 1.0 + net
            rows.append((day, gross, net, pending_turnover, pending_cost, equity))
            pending_turnover = 0.0
            pending_cost = 0.0
        if day in rebalance_on and day in targets:
            value = sum(holdings.values()) + cash
            current = {a: (holdings[a] / value if value else 0.0) for a in assets}
            target = {a: targets[day].get(a, 0.0) for a in assets}
            turnover = 0.0
            cost = 0.0
            for a in assets:
                size = abs(target[a] - current[a])
                turnover += size
                cost += size * (commission_bps + half_spread_bps) / 10_000.0
                if impact_coefficient and sigma is not None and size > 0:
                    s = sigma.get(day, {}).get(a, float("nan"))
                    v = adv_usd.get(day, {}).get(a, float("nan"))
                    if math.isfinite(s) and math.isfinite(v) and v > 0:
                        cost += impact_coefficient * s * math.sqrt(size * aum_usd / v) * size
            pending_turnover, pending_cost = turnover, cost
            # Costs are subtracted from returns, not from the book: rescale to value 1 at the targets.
            holdings = {a: target[a] for a in assets}
            cash = 1.0 - sum(target.values())
    return rows
