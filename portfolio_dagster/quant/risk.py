"""Risk model: forecast each name's (and the equal-weight universe's) volatility over h sessions.

Target: the realized standard deviation of the return over the next h sessions, sqrt(sum of the next h
squared daily returns) (not annualized), and the inputs known at the close of d from returns dated <= d.
The models are in risk_models.py, their walk-forward in risk_walk_forward.py, the loss and the test that
compares two forecasts in risk_evaluation.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from portfolio_dagster.quant.panel import long

EWMA, HAR, LOG_LINEAR, LIGHTGBM, CHOSEN = "ewma", "har", "log_linear", "lightgbm", "chosen"
BASELINES = (EWMA, HAR)
ML_FAMILIES = (LOG_LINEAR, LIGHTGBM)
RISK_MODELS = BASELINES + ML_FAMILIES
RISKMETRICS_LAMBDA = 0.94
# The equal-weight universe of the names given, forecast beside them (the barbell's volatility target).
UNIVERSE = "_universe"
RISK_COLUMNS = ["ticker", "date", "horizon", "model", "volatility", "valid_from"]
RV_WINDOWS = (1, 5, 22, 63, 126)
# Floor on a daily variance: a day without a price change (r = 0) has log variance -inf otherwise.
_VAR_FLOOR = 1e-10
_EWMA_WARMUP = 20
_LN2 = math.log(2.0)


def trailing_sum(panel: pd.DataFrame, k: int) -> pd.DataFrame:
    """date x ticker: each value plus the k - 1 before it (NaN where one is missing or there are fewer),
    added in one fixed order per value. pandas' rolling sums run along the whole column, so their last
    bits depend on where the panel begins; these do not: a session's rows, computed from the recent
    rows alone, equal the history's."""
    x = panel.to_numpy(dtype=float)
    out = np.full(x.shape, np.nan)
    n = len(x)
    if n >= k:
        acc = x[: n - k + 1].copy()
        for j in range(1, k):
            acc += x[j : n - k + 1 + j]
        out[k - 1 :] = acc
    return pd.DataFrame(out, index=panel.index, columns=panel.columns)


def trailing_mean(panel: pd.DataFrame, k: int) -> pd.DataFrame:
    """trailing_sum / k."""
    return trailing_sum(panel, k) / k


def realized_volatility(returns: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """date x ticker: sqrt(r_(d+1)^2 + ... + r_(d+h)^2); NaN where a return is missing or past the data."""
    return np.sqrt(trailing_sum(returns.pow(2), horizon).shift(-horizon))


def ewma_variance(returns: pd.DataFrame, lam: float = RISKMETRICS_LAMBDA) -> pd.DataFrame:
    """date x ticker: the RiskMetrics daily variance at the close of each date (returns dated <= it);
    NaN before 20 returns are known."""
    return returns.pow(2).ewm(alpha=1.0 - lam, adjust=False, min_periods=_EWMA_WARMUP, ignore_na=True).mean()


def with_universe(returns: pd.DataFrame) -> pd.DataFrame:
    """The returns with the equal-weight universe's daily return (the mean of the names known that day)
    as one more column, UNIVERSE."""
    return returns.assign(**{UNIVERSE: returns.mean(axis=1, skipna=True)})


def _range_variances(ohlc: dict[str, pd.DataFrame] | None, index, columns) -> dict[str, pd.DataFrame]:
    """Daily Parkinson (1980) and Garman-Klass (1980) variances where open/high/low/close exist."""
    if not ohlc or not all(k in ohlc for k in ("open", "high", "low", "close")):
        return {}
    o, h, lo, c = (ohlc[k].reindex(index=index, columns=columns) for k in ("open", "high", "low", "close"))
    hl = np.log(h / lo)
    co = np.log(c / o)
    park = hl.pow(2) / (4 * _LN2)
    gk = 0.5 * hl.pow(2) - (2 * _LN2 - 1) * co.pow(2)
    valid = (h >= lo) & (lo > 0) & (o > 0)
    return {"parkinson": park.where(valid), "garman_klass": gk.clip(lower=0).where(valid)}


# Rows before `since` the trailing inputs read (the longest window), when only rows from `since` are asked.
_WARMUP_ROWS = max(*RV_WINDOWS, 22) - 1


def risk_inputs(
    returns: pd.DataFrame, ohlc: dict[str, pd.DataFrame] | None = None, since=None
) -> pd.DataFrame:
    """Long rows (ticker, date, inputs) known at the close of date: mean squared returns over RV_WINDOWS
    (`rv_k`), the RiskMetrics variance (`ewma_var`), their logs (`log_*`), the universe's 22-session log
    variance (`log_universe_rv_22`) and, where OHLC exist, 22-session Parkinson / Garman-Klass log
    variances (NaN elsewhere). `returns` is date x ticker of simple daily returns; UNIVERSE is added.
    since: only the rows dated >= it (the same values as in the whole history's rows)."""
    return _rows(_input_panels(returns, ohlc, since), since)


def _input_panels(
    returns: pd.DataFrame, ohlc: dict[str, pd.DataFrame] | None, since=None
) -> dict[str, pd.DataFrame]:
    """risk_inputs' columns as date x ticker panels (the universe included); from since on, with the
    rows before it that the windows read (the EWMA, a recursion, runs over the whole history)."""
    r = with_universe(returns)
    ewma = ewma_variance(r)
    if since is not None:
        first = max(0, int(r.index.searchsorted(pd.Timestamp(since))) - _WARMUP_ROWS)
        r, ewma = r.iloc[first:], ewma.iloc[first:]
    sq = r.pow(2)
    panels = {f"rv_{k}": trailing_mean(sq, k) for k in RV_WINDOWS}
    panels["ewma_var"] = ewma
    universe = panels["rv_22"][UNIVERSE]
    panels["universe_rv_22"] = pd.DataFrame({c: universe for c in r.columns}, index=r.index)
    for name, daily in _range_variances(ohlc, r.index, r.columns).items():
        panels[name] = trailing_mean(daily, 22)
    for name in list(panels):
        panels[f"log_{name}"] = np.log(panels[name].clip(lower=_VAR_FLOOR))
    return panels


def _rows(panels: dict[str, pd.DataFrame], since) -> pd.DataFrame:
    """Same-shaped panels as long rows (date, ticker, one column a panel), date-major, from `since`."""
    if since is not None:
        panels = {k: p[p.index >= pd.Timestamp(since)] for k, p in panels.items()}
    # quant/panel.long stacks with numpy: pandas' stack of ~24 panels was most of a session's risk rows.
    out = long(panels, dropna_all=False)
    return out[["date", "ticker", *panels]]


def risk_rows(
    returns: pd.DataFrame, horizons, ohlc: dict[str, pd.DataFrame] | None = None, since=None
) -> pd.DataFrame:
    """risk_inputs with the target variance of each horizon (`target_var_{h}`: the squared realized
    volatility, NaN past the data), sorted by date, ticker; rows without the slowest input are dropped.
    since: only the rows dated >= it (the same values as in the whole history's rows, from the recent
    rows: a daily session does not recompute the history's windows)."""
    panels = _input_panels(returns, ohlc, since)
    r = with_universe(returns.loc[panels["ewma_var"].index])
    for h in horizons:
        panels[f"target_var_{h}"] = realized_volatility(r, h).pow(2)
    rows = _rows(panels, since)
    rows = rows[np.isfinite(rows[f"rv_{max(RV_WINDOWS)}"]) & np.isfinite(rows["ewma_var"])]
    return rows.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)


def row_dates(returns: pd.DataFrame) -> pd.DatetimeIndex:
    """The dates risk_rows has rows on (some name or the universe with the slowest input and the EWMA
    known): the calendar of the walk-forward, without building the rows."""
    r = with_universe(returns)
    sq = r.pow(2)
    known = np.isfinite(trailing_mean(sq, max(RV_WINDOWS))) & np.isfinite(ewma_variance(r))
    return pd.DatetimeIndex(r.index[known.any(axis=1).to_numpy()]).sort_values()


def ml_input_names(rows: pd.DataFrame) -> list[str]:
    """The ML families' inputs: every log-variance column with values (range-based ones only with OHLC)."""
    return [c for c in rows.columns if c.startswith("log_") and rows[c].notna().any()]
