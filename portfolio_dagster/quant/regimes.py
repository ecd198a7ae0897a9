"""Market regime known at each close: calm or turbulent by trailing volatility of the equal-weight market."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy.stats import norm

VOL_WINDOW = 21


def volatility_regimes(market_returns: pd.Series) -> pd.DataFrame:
    """State per date from data <= date: turbulent when 21-day vol exceeds its expanding median.

    The probability is a smooth score of how far vol sits from that median, in units of its
    expanding dispersion; a placeholder until the HMM regime model.
    """
    vol = market_returns.rolling(VOL_WINDOW, min_periods=VOL_WINDOW).std() * np.sqrt(252)
    median = vol.expanding(min_periods=VOL_WINDOW).median()
    spread = vol.expanding(min_periods=VOL_WINDOW).std()
    p_turbulent = pd.Series(norm.cdf(((vol - median) / spread).to_numpy()), index=vol.index)
    valid = p_turbulent.notna()
    p = p_turbulent[valid]
    return pd.DataFrame({
        "date": p.index,
        "state": np.where(p > 0.5, "turbulent", "calm"),
        "probabilities": [json.dumps({"calm": round(1 - v, 6), "turbulent": round(v, 6)}) for v in p],
    }).reset_index(drop=True)
