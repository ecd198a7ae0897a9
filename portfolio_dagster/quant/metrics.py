"""Performance and skill statistics: textbook definitions on daily net returns, risk-free rate 0.

- annual_return: CAGR, (prod(1+r))^(252/n) - 1
- annual_volatility: std(r, ddof=1) * sqrt(252)
- sharpe: mean(r) / std(r, ddof=1) * sqrt(252)
- sortino: mean(r) * 252 / (sqrt(mean(min(r,0)^2)) * sqrt(252))  (downside deviation vs 0, all days)
- max_drawdown: min over t of equity_t / running peak - 1 (the start counts as a peak of 1)
- calmar: CAGR / |max_drawdown|
- information_ratio: mean(r - b) / std(r - b, ddof=1) * sqrt(252) against the index b
- hit_rate: share of days with r > 0;  profit_factor: sum of gains / sum of losses
- turnover: one-way sum of |trades| per year
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.calendar import TRADING_DAYS

ROLLING_WINDOW_DAYS = TRADING_DAYS  # one year of sessions
MIN_SKILL_ROWS = 3
NAN = float("nan")


def equity_curve(returns: np.ndarray) -> np.ndarray:
    """Compounded equity (starting at 1) after each return."""
    return np.cumprod(1.0 + np.asarray(returns, dtype=float))


def drawdown(returns: np.ndarray) -> np.ndarray:
    """Underwater curve: equity over its running peak (the start is a peak of 1) minus 1."""
    equity = equity_curve(returns)
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    return equity / peak - 1.0


def max_drawdown(returns: np.ndarray) -> float:
    """The deepest drawdown, a negative fraction (0 for no returns)."""
    dd = drawdown(returns)
    return float(dd.min()) if dd.size else 0.0


def sharpe(returns: np.ndarray) -> float:
    """Annualized Sharpe ratio of daily returns (no risk-free rate; NaN below 2 returns or without
    variance)."""
    returns = np.asarray(returns, dtype=float)
    if returns.size < 2:
        return NAN
    sd = returns.std(ddof=1)
    return float(returns.mean() / sd * np.sqrt(TRADING_DAYS)) if sd > 0 else NAN


def cagr(returns: np.ndarray) -> float:
    """Compound annual growth rate of daily returns (252 a year; NaN when undefined)."""
    years = len(returns) / TRADING_DAYS
    total = float(np.prod(1.0 + np.asarray(returns, dtype=float)))
    return total ** (1 / years) - 1 if years > 0 and total > 0 else NAN


def sortino(returns: np.ndarray) -> float:
    """Annualized mean return over the annualized downside deviation (NaN without downside)."""
    downside = np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)) * np.sqrt(TRADING_DAYS)
    return float(np.mean(returns) * TRADING_DAYS / downside) if downside > 0 else NAN


def information_ratio(returns: np.ndarray, benchmark: np.ndarray) -> float:
    """Annualized mean active return over tracking error against `benchmark` (NaN without tracking error)."""
    active = np.asarray(returns) - np.asarray(benchmark)
    te = active.std(ddof=1) if active.size > 1 else 0.0
    return float(active.mean() / te * np.sqrt(TRADING_DAYS)) if te > 1e-15 else NAN


def performance(net: np.ndarray, turnover: np.ndarray, benchmark: np.ndarray | None) -> dict[str, float]:
    """The DESIGN.md metrics that depend on one return series (deflated Sharpe and capacity need more)."""
    net = np.asarray(net, dtype=float)
    years = net.size / TRADING_DAYS
    annual = cagr(net)
    mdd = max_drawdown(net)
    gains, losses = net[net > 0].sum(), -net[net < 0].sum()
    return {
        "annual_return": annual,
        "annual_volatility": float(net.std(ddof=1) * np.sqrt(TRADING_DAYS)) if net.size > 1 else NAN,
        "sharpe": sharpe(net),
        "sortino": sortino(net),
        "max_drawdown": mdd,
        "calmar": float(annual / abs(mdd)) if mdd < 0 else NAN,
        "information_ratio": information_ratio(net, benchmark) if benchmark is not None else NAN,
        "hit_rate": float(np.mean(net > 0)) if net.size else NAN,
        "profit_factor": float(gains / losses) if losses > 0 else NAN,
        "turnover": float(np.sum(turnover) / years) if years > 0 else NAN,
    }


def rolling(net: pd.Series, window: int = ROLLING_WINDOW_DAYS) -> pd.DataFrame:
    """Trailing-window metrics per day (NaN until the window is full) and the underwater curve."""
    mean = net.rolling(window, min_periods=window).mean()
    sd = net.rolling(window, min_periods=window).std(ddof=1)
    growth = np.exp(np.log1p(net).rolling(window, min_periods=window).sum())
    return pd.DataFrame(
        {
            "rolling_return": growth ** (TRADING_DAYS / window) - 1.0,
            "rolling_volatility": sd * np.sqrt(TRADING_DAYS),
            "rolling_sharpe": (mean / sd.where(sd > 0)) * np.sqrt(TRADING_DAYS),
            "drawdown": drawdown(net.to_numpy()),
        },
        index=net.index,
    )


def window_drawdowns(net: pd.Series, windows: tuple[tuple[str, str, str], ...]) -> pd.DataFrame:
    """Max drawdown inside each (name, first, last) window, equity restarted at its start."""
    rows = []
    for name, first, last in windows:
        part = net[(net.index >= pd.Timestamp(first)) & (net.index <= pd.Timestamp(last))]
        if len(part):
            rows.append(
                (
                    name,
                    part.index[0],
                    part.index[-1],
                    max_drawdown(part.to_numpy()),
                    float(np.prod(1.0 + part.to_numpy()) - 1.0),
                )
            )
    return pd.DataFrame(rows, columns=["period", "first", "last", "max_drawdown", "total_return"])


def by_regime(net: pd.Series, state: pd.Series) -> pd.DataFrame:
    """Performance per regime state; `state` is aligned with `net` (the state known at the
    previous close, when the day's position was decided). Days without a state are left out."""
    frame = pd.DataFrame({"net": net, "state": state}).dropna(subset=["state"])
    rows = []
    for name, part in frame.groupby("state", sort=True):
        r = part["net"].to_numpy()
        rows.append(
            {
                "state": name,
                "days": len(r),
                "share_of_days": len(r) / max(len(frame), 1),
                "annual_return": float(r.mean() * TRADING_DAYS),
                "annual_volatility": float(r.std(ddof=1) * np.sqrt(TRADING_DAYS)) if len(r) > 1 else np.nan,
                "sharpe": sharpe(r),
                "hit_rate": float(np.mean(r > 0)),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "state",
            "days",
            "share_of_days",
            "annual_return",
            "annual_volatility",
            "sharpe",
            "hit_rate",
        ],
    )


def monthly_returns(net: pd.Series) -> pd.DataFrame:
    """Compounded return per calendar month: years as rows, months 1..12 as columns."""
    monthly = (1.0 + net).groupby([net.index.year, net.index.month]).prod() - 1.0
    table = monthly.unstack()
    table.index.name, table.columns.name = "year", "month"
    return table.reindex(columns=range(1, 13))


def direction_counted(prediction, realized):
    """Where directional skill is measured: a finite forecast and a finite, non-zero realized move (a
    flat move has no direction). Elementwise on arrays, series or date x ticker frames."""
    return np.isfinite(prediction) & np.isfinite(realized) & (realized != 0)


def direction_hit(prediction, realized):
    """The forecast calls "up" when > 0 and "down" otherwise; a hit when the realized move agrees."""
    return (prediction > 0) == (realized > 0)


def directional_skill(prediction, realized) -> tuple[float, float, int]:
    """(directional_accuracy, base_rate, n) over the counted rows: the one definition of skill for the
    evaluation, the model metrics, the decay sensor and the emergency control. base_rate is the share
    of up moves: what always calling "up" scores."""
    prediction, realized = np.asarray(prediction, dtype=float), np.asarray(realized, dtype=float)
    counted = direction_counted(prediction, realized)
    n = int(counted.sum())
    if n == 0:
        return NAN, NAN, 0
    pred, real = prediction[counted], realized[counted]
    return float(direction_hit(pred, real).mean()), float((real > 0).mean()), n


def forecast_skill(frame: pd.DataFrame) -> dict[str, float]:
    """frame: date, prediction, realized. directional_skill (accuracy next to the base rate) and the
    IC: the mean over dates of the cross-sectional rank correlation of prediction and realized return.
    Fewer than MIN_SKILL_ROWS counted rows: every value NaN."""
    finite = frame[np.isfinite(frame["prediction"]) & np.isfinite(frame["realized"])]
    accuracy, base_rate, n = directional_skill(finite["prediction"], finite["realized"])
    if n < MIN_SKILL_ROWS:
        return {"directional_accuracy": NAN, "base_rate": NAN, "ic": NAN, "n": 0}
    ics = daily_rank_ic(finite)
    return {
        "directional_accuracy": accuracy,
        "base_rate": base_rate,
        "ic": float(ics.mean()) if len(ics) else NAN,
        "n": n,
    }


# Fewer names than this on a date and its cross-sectional correlation is not computed.
MIN_NAMES_PER_DATE = 3


def cross_sectional_ic(
    frame: pd.DataFrame, prediction: str = "prediction", actual: str = "actual", rank: bool = True
) -> pd.Series:
    """Per date (frame's `date` column) the correlation across names of `prediction` and `actual`:
    Spearman (rank=True; average ranks for ties) or Pearson. Rows with a NaN on either side are left
    out; dates with fewer than MIN_NAMES_PER_DATE names or a constant side are skipped. Indexed by
    date, sorted. One sort per side and per-date sums (np.bincount): a grouped pandas rank cost most of
    the forecasts stage's skill pass at 500 names."""
    x = frame[prediction].to_numpy(dtype=float)
    y = frame[actual].to_numpy(dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y)) & pd.notna(frame["date"]).to_numpy()
    codes, dates = pd.factorize(frame["date"].to_numpy()[ok], sort=True)
    x, y = x[ok], y[ok]
    if rank:
        x, y = _ranks_within(codes, x), _ranks_within(codes, y)
    k = len(dates)
    n = np.bincount(codes, minlength=k).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = x - (np.bincount(codes, x, k) / n)[codes]
        dy = y - (np.bincount(codes, y, k) / n)[codes]
        xy, xx, yy = (np.bincount(codes, w, k) for w in (dx * dy, dx * dx, dy * dy))
        keep = (n >= MIN_NAMES_PER_DATE) & (xx > 1e-12) & (yy > 1e-12)
        ic = xy[keep] / np.sqrt(xx[keep] * yy[keep])
    return pd.Series(ic, index=pd.Index(dates[keep], name="date"), name="ic")


def _ranks_within(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values` within each group of `codes`, ties averaged (pandas' rank 'average')."""
    if not len(values):
        return values
    # Sorted by (group, value) through one integer key: a value's global rank under its group's code.
    global_rank = np.empty(len(values), dtype=np.int64)
    global_rank[np.argsort(values)] = np.arange(len(values))
    order = np.argsort(codes.astype(np.int64) * len(values) + global_rank)
    c, v = codes[order], values[order]
    new_group = np.r_[True, c[1:] != c[:-1]]
    new_run = new_group | np.r_[True, v[1:] != v[:-1]]
    positions = np.arange(len(v))
    group_start = np.maximum.accumulate(np.where(new_group, positions, 0))
    run = np.cumsum(new_run) - 1
    run_start = positions[new_run]
    run_end = np.r_[run_start[1:], len(v)]  # exclusive
    average = (run_start + run_end - 1) / 2.0 - group_start[new_run] + 1.0
    ranks = np.empty(len(v))
    ranks[order] = average[run]
    return ranks


def daily_rank_ic(frame: pd.DataFrame) -> pd.Series:
    """Spearman correlation of `prediction` and `realized` per date (see cross_sectional_ic)."""
    return cross_sectional_ic(frame, "prediction", "realized", rank=True)
