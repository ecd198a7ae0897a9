"""Signals from ensemble forecasts: expected return, confidence of its sign, Kelly-style size."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from portfolio_dagster.quant.models import INTERVAL_QUANTILES

_Z = norm.ppf(INTERVAL_QUANTILES[1])


def from_forecasts(forecasts: pd.DataFrame, kelly_fraction: float = 0.5) -> pd.DataFrame:
    """forecasts: ticker, date, prediction, lower, upper (one horizon, the ensemble)."""
    sigma = ((forecasts["upper"] - forecasts["lower"]) / (2 * _Z)).clip(lower=1e-6)
    mu = forecasts["prediction"]
    # Probability that the realized return has the forecast's sign, under a normal predictive.
    confidence = norm.cdf(np.abs(mu) / sigma)
    size = (kelly_fraction * mu / sigma**2).clip(lower=0.0)
    return pd.DataFrame({
        "ticker": forecasts["ticker"].to_numpy(), "date": forecasts["date"].to_numpy(),
        "expected_return": mu.to_numpy(), "confidence": confidence, "position_size": size.to_numpy(),
    })
