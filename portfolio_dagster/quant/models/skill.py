"""Out-of-sample skill of forecasts against realized targets, per model and horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.metrics import cross_sectional_ic, directional_skill
from portfolio_dagster.quant.models.base import INTERVAL_QUANTILES
from portfolio_dagster.quant.significance import newey_west_tstat

SKILL_COLUMNS = (
    "model",
    "horizon",
    "first_date",
    "last_date",
    "observations",
    "directional_accuracy",
    "base_rate",
    "ic",
    "rank_ic",
    "rank_ic_tstat",
    "pooled_ic",
    "mae",
    "interval_coverage",
    "nominal_coverage",
)


def oos_skill(forecasts: pd.DataFrame) -> pd.DataFrame:
    """forecasts with a realized `actual` column -> one row per (model, horizon), SKILL_COLUMNS."""
    done = forecasts.dropna(subset=["actual", "prediction"])
    rows = [pair_skill(f, model, int(horizon)) for (model, horizon), f in done.groupby(["model", "horizon"])]
    return pd.DataFrame(rows, columns=list(SKILL_COLUMNS))


def pair_skill(f: pd.DataFrame, model: str, horizon: int) -> dict:
    """The SKILL_COLUMNS row of one (model, horizon)'s forecasts with a realized `actual` (date,
    prediction, lower, upper, actual; rows without actual or prediction are left out)."""
    f = f.dropna(subset=["actual", "prediction"])
    rank_ic = cross_sectional_ic(f, rank=True)
    ic = cross_sectional_ic(f, rank=False)
    pooled = (
        float(np.corrcoef(f["prediction"], f["actual"])[0, 1])
        if len(f) > 2 and f["prediction"].std() > 0 and f["actual"].std() > 0
        else float("nan")
    )
    covered = (f["actual"] >= f["lower"]) & (f["actual"] <= f["upper"])
    bounded = f["lower"].notna()
    accuracy, base_rate, _ = directional_skill(f["prediction"], f["actual"])
    return {
        "model": model,
        "horizon": int(horizon),
        "first_date": f["date"].min(),
        "last_date": f["date"].max(),
        "observations": len(f),
        "directional_accuracy": accuracy,
        "base_rate": base_rate,
        "ic": float(ic.mean()) if len(ic) else np.nan,
        "rank_ic": float(rank_ic.mean()) if len(rank_ic) else np.nan,
        "rank_ic_tstat": newey_west_tstat(rank_ic.to_numpy(), int(horizon)),
        "pooled_ic": pooled,
        "mae": float(np.mean(np.abs(f["prediction"] - f["actual"]))),
        "interval_coverage": float(covered[bounded].mean()) if bounded.any() else np.nan,
        "nominal_coverage": INTERVAL_QUANTILES[1] - INTERVAL_QUANTILES[0],
    }
