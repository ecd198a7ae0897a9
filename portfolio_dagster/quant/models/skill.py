"""Out-of-sample skill of forecasts against realized targets, per model and horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.models.base import INTERVAL_QUANTILES

SKILL_COLUMNS = ("model", "horizon", "first_date", "last_date", "observations", "directional_accuracy",
                 "base_rate", "ic", "rank_ic", "pooled_ic", "mae", "interval_coverage", "nominal_coverage")


def _daily_corr(frame: pd.DataFrame, a: str, b: str) -> float:
    """Mean over dates of the cross-sectional correlation of a and b (dates with < 3 rows skipped)."""
    g = frame.groupby("date")
    n = g[a].transform("size")
    x, y = frame[a] - g[a].transform("mean"), frame[b] - g[b].transform("mean")
    parts = pd.DataFrame({"date": frame["date"], "xy": x * y, "xx": x * x, "yy": y * y})[n >= 3]
    sums = parts.groupby("date")[["xy", "xx", "yy"]].sum()
    denom = np.sqrt(sums["xx"] * sums["yy"])
    corr = (sums["xy"] / denom)[denom > 0]
    return float(corr.mean()) if len(corr) else float("nan")


def oos_skill(forecasts: pd.DataFrame) -> pd.DataFrame:
    """forecasts with a realized `actual` column -> one row per (model, horizon), SKILL_COLUMNS."""
    rows = []
    done = forecasts.dropna(subset=["actual", "prediction"])
    for (model, horizon), f in done.groupby(["model", "horizon"], sort=True):
        ranked = f.assign(pred_rank=f.groupby("date")["prediction"].rank(),
                          actual_rank=f.groupby("date")["actual"].rank())
        pooled = float(np.corrcoef(f["prediction"], f["actual"])[0, 1]) if len(f) > 2 and \
            f["prediction"].std() > 0 and f["actual"].std() > 0 else float("nan")
        covered = (f["actual"] >= f["lower"]) & (f["actual"] <= f["upper"])
        rows.append({
            "model": model, "horizon": int(horizon), "first_date": f["date"].min(), "last_date": f["date"].max(),
            "observations": len(f),
            "directional_accuracy": float(np.mean(np.sign(f["prediction"]) == np.sign(f["actual"]))),
            "base_rate": float(np.mean(f["actual"] > 0)),
            "ic": _daily_corr(f, "prediction", "actual"), "rank_ic": _daily_corr(ranked, "pred_rank", "actual_rank"),
            "pooled_ic": pooled, "mae": float(np.mean(np.abs(f["prediction"] - f["actual"]))),
            "interval_coverage": float(covered[f["lower"].notna()].mean()) if f["lower"].notna().any() else np.nan,
            "nominal_coverage": INTERVAL_QUANTILES[1] - INTERVAL_QUANTILES[0],
        })
    return pd.DataFrame(rows, columns=list(SKILL_COLUMNS))
