"""The risk model's out-of-sample skill: QLIKE against EWMA on the same rows with a Diebold-Mariano test,
per horizon, for backtest_summary (risk_skill_metrics) and model_metrics (risk_model_metrics).

model_metrics:

One row per (model, horizon) with model `risk_<name>` (ewma, har, log_linear, lightgbm and chosen; the
prefix keeps them apart from the return models of the same family names): risk_qlike (its mean QLIKE,
Patton 2011), risk_qlike_ewma (EWMA's on the same rows) and risk_dm_pvalue (two-sided Diebold-Mariano,
HAC; NaN for EWMA itself), over the names' rows whose h-session target is realized (the equal-weight
universe row is the barbell's input, not a name, and is left out as in backtest_summary).
"""

from __future__ import annotations

import pandas as pd

from portfolio_dagster.quant.risk import CHOSEN, EWMA, UNIVERSE, realized_volatility
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


def risk_model_metrics(
    forecasts: pd.DataFrame, returns: pd.DataFrame, horizons, models: list[str] | None = None
) -> pd.DataFrame:
    """METRIC_COLUMNS for every model in `forecasts` (RISK_COLUMNS; `models` alone when given: EWMA's rows
    must be there too) at each horizon with realized targets; returns: date x ticker of simple daily
    returns (the realized volatility's source)."""
    names = forecasts[forecasts["ticker"] != UNIVERSE].assign(date=lambda f: pd.to_datetime(f["date"]))
    rows = []
    for h in horizons:
        rv = realized_volatility(returns, h).stack(future_stack=True)
        rv.index.names = ["date", "ticker"]
        realized = rv.rename("realized_volatility").reset_index()
        at_h = names[names["horizon"] == h]
        for model in models if models is not None else sorted(at_h["model"].unique()):
            skill = risk_skill(at_h, realized, h, model)
            if not skill["risk_rows"]:
                continue
            rows.append(
                {
                    "model": PREFIX + model,
                    "horizon": int(h),
                    "first_date": skill["first_date"].date(),
                    "last_date": skill["last_date"].date(),
                    "observations": int(skill["risk_rows"]),
                    "risk_qlike": skill["risk_qlike"],
                    "risk_qlike_ewma": skill["risk_qlike_ewma"],
                    "risk_dm_pvalue": float("nan") if model == EWMA else skill["risk_dm_pvalue"],
                }
            )
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


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
    y = joined["realized_volatility"].to_numpy() ** 2
    la, lb = qlike(y, joined[model].to_numpy() ** 2), qlike(y, joined[EWMA].to_numpy() ** 2)
    dates = joined.index.get_level_values("date")
    dm = diebold_mariano(la, lb, dates, horizon)
    return {
        "risk_qlike": float(la.mean()),
        "risk_qlike_ewma": float(lb.mean()),
        "risk_dm_pvalue": dm.pvalue,
        "risk_dm_stat": dm.statistic,
        "risk_rows": int(len(joined)),
        "first_date": pd.Timestamp(dates.min()),
        "last_date": pd.Timestamp(dates.max()),
    }


def risk_skill_metrics(
    forecasts: pd.DataFrame, returns: pd.DataFrame, horizons, model: str = CHOSEN
) -> dict[str, float]:
    """backtest_summary's risk metrics of the names (not the universe row) per horizon h:
    risk_qlike_{h}d (`model`'s mean QLIKE), risk_qlike_ewma_{h}d (EWMA on the same rows) and
    risk_dm_pvalue_{h}d (two-sided DM, HAC). forecasts: RISK_COLUMNS; returns: date x ticker."""
    names = forecasts[forecasts["ticker"] != UNIVERSE].assign(date=lambda f: pd.to_datetime(f["date"]))
    out = {}
    for h in horizons:
        rv = realized_volatility(returns, h).stack(future_stack=True)
        rv.index.names = ["date", "ticker"]
        skill = risk_skill(names, rv.rename("realized_volatility").reset_index(), h, model)
        out[f"risk_qlike_{h}d"] = skill["risk_qlike"]
        out[f"risk_qlike_ewma_{h}d"] = skill["risk_qlike_ewma"]
        out[f"risk_dm_pvalue_{h}d"] = skill["risk_dm_pvalue"]
    return out
