"""The risk model's out-of-sample skill: QLIKE against EWMA on the same rows with a Diebold-Mariano test,
per horizon, for backtest_summary (paired_skill, summary_metrics) and model_metrics (paired_skill,
metric_row).

model_metrics:

One row per (model, horizon) with model `risk_<name>` (ewma, har, log_linear, lightgbm and chosen; the
prefix keeps them apart from the return models of the same family names): risk_qlike (its mean QLIKE,
Patton 2011), risk_qlike_ewma (EWMA's on the same rows) and risk_dm_pvalue (two-sided Diebold-Mariano,
HAC; NaN for EWMA itself), over the names' rows whose h-session target is realized (the equal-weight
universe row is the barbell's input, not a name, and is left out as in backtest_summary).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.risk import CHOSEN, EWMA
from portfolio_dagster.quant.risk_evaluation import diebold_mariano, qlike

PREFIX = "risk_"
METRIC_COLUMNS = [
    "model",
    "horizon",
    "first_date",
    "last_date",
    "observations",
    "risk_qlike",
    "risk_qlike_ewma",
    "risk_dm_pvalue",
]


def risk_skill(forecasts: pd.DataFrame, realized: pd.DataFrame, horizon: int, model: str = CHOSEN) -> dict:
    """Out-of-sample skill of `model` against EWMA on the same rows at one horizon: {risk_qlike,
    risk_qlike_ewma, risk_dm_pvalue, risk_dm_stat, risk_rows, first_date, last_date}. forecasts:
    RISK_COLUMNS; realized: ticker, date, realized_volatility (the h-session target, NaN where not yet
    known)."""
    f = forecasts[(forecasts["horizon"] == horizon) & forecasts["model"].isin([model, EWMA])]
    wide_f = f.pivot_table(index=["ticker", "date"], columns="model", values="volatility", aggfunc="first")
    joined = wide_f.join(realized.set_index(["ticker", "date"])["realized_volatility"], how="inner")
    if model not in joined.columns or EWMA not in joined.columns:
        joined = joined.iloc[0:0]
    joined = joined.dropna(subset=[c for c in (model, EWMA, "realized_volatility") if c in joined.columns])
    if joined.empty:
        return _skill(np.array([]), np.array([]), np.array([]), np.array([], "datetime64[ns]"), horizon)
    return _skill(
        joined["realized_volatility"].to_numpy(),
        joined[model].to_numpy(),
        joined[EWMA].to_numpy(),
        joined.index.get_level_values("date").to_numpy(),
        horizon,
    )


def paired_skill(paired: pd.DataFrame, realized: pd.DataFrame, horizon: int) -> dict:
    """risk_skill from rows already paired with EWMA's: paired holds ticker, date, volatility (the
    model's) and ewma (EWMA's forecast of the same row), sorted by ticker, date; realized: the date x
    ticker panel of realized volatility (realized_volatility). Rows are placed in the panel by index (the
    pivot and join of risk_skill were most of model_metrics' risk pass at 500 names)."""
    row = realized.index.get_indexer(pd.to_datetime(paired["date"]))
    col = realized.columns.get_indexer(paired["ticker"].astype(str))
    rv = np.full(len(paired), np.nan)
    inside = (row >= 0) & (col >= 0)
    rv[inside] = realized.to_numpy()[row[inside], col[inside]]
    vol, ewma = paired["volatility"].to_numpy(dtype=float), paired["ewma"].to_numpy(dtype=float)
    keep = ~(np.isnan(rv) | np.isnan(vol) | np.isnan(ewma))
    dates = pd.to_datetime(paired["date"]).to_numpy()
    return _skill(rv[keep], vol[keep], ewma[keep], dates[keep], horizon)


def _skill(realized, vol, ewma, dates, horizon: int) -> dict:
    if not len(realized):
        nan = float("nan")
        return {
            "risk_qlike": nan,
            "risk_qlike_ewma": nan,
            "risk_dm_pvalue": nan,
            "risk_dm_stat": nan,
            "risk_rows": 0,
            "first_date": None,
            "last_date": None,
        }
    y = realized**2
    la, lb = qlike(y, vol**2), qlike(y, ewma**2)
    dm = diebold_mariano(la, lb, dates, horizon)
    return {
        "risk_qlike": float(la.mean()),
        "risk_qlike_ewma": float(lb.mean()),
        "risk_dm_pvalue": dm.pvalue,
        "risk_dm_stat": dm.statistic,
        "risk_rows": int(len(y)),
        "first_date": pd.Timestamp(dates.min()),
        "last_date": pd.Timestamp(dates.max()),
    }


def metric_row(model: str, horizon: int, skill: dict) -> dict:
    """A METRIC_COLUMNS row of `model`'s skill at `horizon` (NaN DM p-value for EWMA itself)."""
    return {
        "model": PREFIX + model,
        "horizon": int(horizon),
        "first_date": skill["first_date"].date(),
        "last_date": skill["last_date"].date(),
        "observations": int(skill["risk_rows"]),
        "risk_qlike": skill["risk_qlike"],
        "risk_qlike_ewma": skill["risk_qlike_ewma"],
        "risk_dm_pvalue": float("nan") if model == EWMA else skill["risk_dm_pvalue"],
    }


def summary_metrics(horizon: int, skill: dict) -> dict[str, float]:
    """backtest_summary's risk metrics of one horizon h from a skill dict (paired_skill, risk_skill):
    risk_qlike_{h}d (the model's mean QLIKE), risk_qlike_ewma_{h}d (EWMA on the same rows) and
    risk_dm_pvalue_{h}d (two-sided DM, HAC); NaN where no row is scored."""
    return {
        f"risk_qlike_{horizon}d": skill["risk_qlike"],
        f"risk_qlike_ewma_{horizon}d": skill["risk_qlike_ewma"],
        f"risk_dm_pvalue_{horizon}d": skill["risk_dm_pvalue"],
    }
