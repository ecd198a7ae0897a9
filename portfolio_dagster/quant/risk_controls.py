"""Risk controls, each point in time: live forecast accuracy (the emergency stop), the strategy's
trailing drawdown, signal persistence, the turnover limit and the rebalance schedule."""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant import calendar
from portfolio_dagster.quant.metrics import direction_counted, direction_hit

_PERIOD = {"weekly": "W", "monthly": "M"}


def live_accuracy(signals: pd.DataFrame, close: pd.DataFrame, horizon: int, window_days: int) -> pd.Series:
    """Per date of `close`: directional accuracy of the signals whose horizon has been realized by that
    date (signal dated t counts from t + horizon sessions on), over the last `window_days` signal dates.
    NaN until half a window of realized dates exists. Accuracy per metrics.directional_skill (flat
    realized moves are skipped)."""
    days = close.index
    realized = close.shift(-horizon) / close - 1  # known only at t + horizon: used from there on
    sig = signals.pivot(index="date", columns="ticker", values="expected_return").reindex(
        index=days, columns=close.columns
    )
    valid = direction_counted(sig, realized)
    hits = (direction_hit(sig, realized) & valid).sum(axis=1).to_numpy(dtype=float)
    counts = valid.sum(axis=1).to_numpy(dtype=float)
    has = (counts > 0).astype(float)

    # At position i the newest realized signal date is i - horizon.
    def trailing(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(x)])
        end = np.arange(len(x)) - horizon + 1
        start = np.maximum(end - window_days, 0)
        end = np.maximum(end, 0)
        return c[end] - c[start]

    h, n, d = trailing(hits), trailing(counts), trailing(has)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where((d >= window_days / 2) & (n > 0), h / n, np.nan)
    return pd.Series(acc, index=days)


def persistent(signals: pd.DataFrame, days: int) -> pd.DataFrame:
    """(date, ticker) -> True where expected_return > 0 on each of the last `days` signal dates."""
    up = signals.pivot(index="date", columns="ticker", values="expected_return").sort_index() > 0
    return up.astype(float).rolling(days, min_periods=days).min().fillna(0.0) > 0


def trailing_drawdown(returns: np.ndarray, window: int) -> float:
    """Drawdown (<= 0) at the last day of the equity built from `returns`, against the running peak of
    the last `window` days (the peak includes the level before the window's first return)."""
    tail = returns[-window:]
    equity = np.concatenate([[1.0], np.cumprod(1.0 + tail)])
    return float(equity[-1] / equity.max() - 1.0)


def limit_turnover(previous: np.ndarray, target: np.ndarray, max_turnover: float) -> tuple[np.ndarray, bool]:
    """Move from `previous` toward `target` by at most `max_turnover` one-way turnover. Both sum to 1,
    are non-negative and within caps, so the convex combination is too."""
    turnover = 0.5 * np.abs(target - previous).sum()
    if turnover <= max_turnover + 1e-12:
        return target, False
    step = max_turnover / turnover
    return previous + step * (target - previous), True


def rebalance_days(dates: pd.DatetimeIndex, frequency: str) -> np.ndarray:
    """True where `date` is the last session of its period by the exchange calendar (known in advance,
    so point in time); the backtest trades at the same closes. Dates past the calendar count as True."""
    dates = pd.DatetimeIndex(dates)
    if frequency == "daily" or dates.empty:
        return np.ones(len(dates), dtype=bool)
    future = calendar.sessions(dates.min().date(), (dates.max() + pd.Timedelta(days=40)).date())
    nxt_pos = np.searchsorted(future.values, dates.values, side="right")
    has_next = nxt_pos < len(future)
    nxt = pd.DatetimeIndex(future.values[np.minimum(nxt_pos, len(future) - 1)])
    freq = _PERIOD[frequency]
    return ~has_next | (dates.to_period(freq) != nxt.to_period(freq))
