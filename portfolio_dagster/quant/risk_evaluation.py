"""The risk model's loss and the test comparing two forecasts on the same rows.

Loss: QLIKE (Patton 2011, robust to noise in the realized proxy), in the form log f + y / f, which is
defined where the realized variance y is 0 and differs from the normalized y/f - log(y/f) - 1 by a term
free of the forecast, so loss differences (and the Diebold-Mariano test, 1995) are the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from portfolio_dagster.quant.significance import newey_west_tstat


def qlike(realized_var, forecast_var) -> np.ndarray:
    """QLIKE per row, log f + y / f (Patton 2011; y the realized variance, f the forecast variance)."""
    y, f = np.asarray(realized_var, dtype=float), np.asarray(forecast_var, dtype=float)
    return np.log(f) + y / f


@dataclass(frozen=True)
class DieboldMariano:
    """Mean loss difference a - b (negative: a is better), its HAC t-statistic and two-sided p-value."""

    mean_difference: float
    statistic: float
    pvalue: float
    dates: int


def diebold_mariano(loss_a, loss_b, dates, horizon: int = 1) -> DieboldMariano:
    """Diebold-Mariano (1995) test of equal expected loss of two forecasts on the same rows. The row
    differences are averaged per date (a panel's names share each day's shock), and the mean of that
    series is studentized with a Newey-West long-run variance at >= 2 (h - 1) lags (h-session targets
    overlap). Fewer than 3 dates: NaN."""
    d = pd.Series(np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float))
    per_date = d.groupby(np.asarray(dates)).mean()
    per_date = per_date[np.isfinite(per_date.to_numpy())]
    if len(per_date) < 3:
        return DieboldMariano(float("nan"), float("nan"), float("nan"), len(per_date))
    t = newey_west_tstat(per_date.to_numpy(), horizon)
    p = float(2 * norm.sf(abs(t))) if np.isfinite(t) else (0.0 if abs(t) == math.inf else float("nan"))
    return DieboldMariano(float(per_date.mean()), float(t), p, len(per_date))
