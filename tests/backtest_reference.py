"""An independent, deliberately slow event loop: the reference the vectorized trading rule must match.

The rule of portfolio_dagster.quant.trading written day by day and asset by asset in plain Python
floats (shares and cash, fractional shares, commission + half-spread, fills at the next session's
close), sharing no code or array tricks with the product:
- after each close: trade if this is the first decision, the daily controls changed, or a scheduled
  rebalance; otherwise trim any capped holding above the cap back to the latest target;
- orders: target x NAV / close - shares; they fill at the next close; sells first, then buys scaled
  down together so that cash never goes negative; costs are paid from cash at the fill.
"""

from __future__ import annotations

import math


def _price(row, asset):
    value = row.get(asset)
    return value if value is not None and math.isfinite(value) and value > 0 else None


def reference_book(
    days,
    assets,
    close,
    targets,
    scheduled,
    controls,
    commission_bps,
    half_spread_bps,
    capital,
    cap=None,
    capped=(),
):
    """days: list of dates; close[day][asset] (missing: carried); targets[day][asset] on decision days;
    scheduled: set of days; controls[day]: the controls in force. Returns (rows, shares_by_day) with
    rows (date, gross, net, turnover, cost, equity) for days[1:]."""
    rate = (commission_bps + half_spread_bps) / 10_000.0
    shares = {a: 0.0 for a in assets}
    cash = float(capital)
    last: dict[str, float] = {}
    pending: dict[str, float] = {}
    previous_control = None
    latest_target: dict[str, float] = {}
    nav0 = nav_prev = None
    rows, books = [], {}
    for i, day in enumerate(days):
        today = close.get(day, {})
        for a in assets:
            px = _price(today, a)
            if px is not None:
                last[a] = px
        traded = cost = 0.0
        if pending:
            for a, q in pending.items():  # sells first
                if q < 0:
                    q = max(q, -shares[a])
                    value = -q * last[a]
                    cash += value - value * rate
                    shares[a] += q
                    traded += value
                    cost += value * rate
            need = sum(q * last[a] * (1 + rate) for a, q in pending.items() if q > 0)
            scale = 1.0 if need <= cash else (max(cash, 0.0) / need if need > 0 else 0.0)
            for a, q in pending.items():
                if q > 0:
                    value = q * scale * last[a]
                    cash -= value * (1 + rate)
                    shares[a] += q * scale
                    traded += value
                    cost += value * rate
            if -1e-9 * max(sum(shares[a] * last.get(a, 0.0) for a in assets), 1.0) < cash < 0:
                cash = 0.0
        nav = cash + sum(shares[a] * last.get(a, 0.0) for a in assets)
        if i == 0:
            nav0 = nav
        else:
            net = nav / nav_prev - 1.0
            rows.append((day, net + cost / nav_prev, net, traded / nav_prev, cost / nav_prev, nav / nav0))
        nav_prev = nav
        books[day] = (dict(shares), cash)
        pending = {}
        reason = None
        if day in targets:
            latest_target = targets[day]
            control = controls.get(day, "")
            if previous_control is None:
                reason = "initial"
            elif control != previous_control:
                reason = "control_change"
            elif day in scheduled:
                reason = "scheduled_rebalance"
            previous_control = control
        if reason is not None:
            for a in assets:
                if a in last:
                    q = max(latest_target.get(a, 0.0), 0.0) * nav / last[a] - shares[a]
                    if q != 0:
                        pending[a] = q
        elif cap is not None and nav > 0:
            for a in capped:
                if a in last and shares[a] * last[a] > cap * nav:
                    q = max(latest_target.get(a, 0.0), 0.0) * nav / last[a] - shares[a]
                    if q < 0:
                        pending[a] = q
    return rows, books
