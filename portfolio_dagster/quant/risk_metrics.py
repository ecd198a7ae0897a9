"""model_metrics rows of the risk model: each risk model's out-of-sample QLIKE against EWMA per horizon.

One row per (model, horizon) with model `risk_<name>` (ewma, har, log_linear, lightgbm and chosen; the
prefix keeps them apart from the return models of the same family names): risk_qlike (its mean QLIKE,
Patton 2011), risk_qlike_ewma (EWMA's on the same rows) and risk_dm_pvalue (two-sided Diebold-Mariano,
HAC; NaN for EWMA itself), over the names' rows whose h-session target is realized (the equal-weight
universe row is the barbell's input, not a name, and is left out as in backtest_summary).
"""

from __future__ import annotations

import pandas as pd

from portfolio_dagster.quant.risk import EWMA, UNIVERSE, realized_volatility, risk_skill

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


def risk_model_metrics(forecasts: pd.DataFrame, returns: pd.DataFrame, horizons) -> pd.DataFrame:
    """METRIC_COLUMNS for every model in `forecasts` (RISK_COLUMNS) at each horizon with realized
    targets; returns: date x ticker of simple daily returns (the realized volatility's source)."""
    names = forecasts[forecasts["ticker"] != UNIVERSE].assign(date=lambda f: pd.to_datetime(f["date"]))
    rows = []
    for h in horizons:
        rv = realized_volatility(returns, h).stack(future_stack=True)
        rv.index.names = ["date", "ticker"]
        realized = rv.rename("realized_volatility").reset_index()
        at_h = names[names["horizon"] == h]
        for model in sorted(at_h["model"].unique()):
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
