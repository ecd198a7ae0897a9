"""Where the risk forecast enters the barbell in ML risk mode (the rule keeps trailing volatility).

The chosen risk forecast (quant/risk.py) at the signal horizon h, made at the close of d, is the standard
deviation of the return over the next h sessions. In ML risk mode it replaces trailing volatility in the
three places volatility decides the barbell:
- the volatility target: the risky share's min(1, vol_target / market vol) takes the equal-weight
  universe's forecast (annualized: sigma_h x sqrt(252 / h)) instead of its trailing 63-day volatility;
- the risky sleeve's composition: inverse volatility (rule expected returns) weighs by 1 / the name's
  forecast, and mean-variance (ML expected returns) keeps the trailing Ledoit-Wolf correlations with the
  forecasts on the covariance's diagonal (daily: sigma_h / sqrt(h));
- the Kelly covariance's diagonal (quant/alpha.covariance_with_volatility, in quant/signals.py).
Where a forecast is missing (before the first risk model, or a name without one) trailing volatility
stays, so ML risk mode never has fewer inputs than the rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.calendar import TRADING_DAYS
from portfolio_dagster.quant.risk import UNIVERSE


def daily_forecast_volatility(risk: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """risk (ticker, date, volatility: h-session forecasts) -> date x ticker daily standard deviations
    sigma_h / sqrt(h), the universe's column (UNIVERSE) included."""
    if risk is None or not len(risk):
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    frame = risk.assign(date=pd.to_datetime(risk["date"]))
    wide = frame.pivot_table(index="date", columns="ticker", values="volatility", aggfunc="first")
    wide.columns.name = None
    return wide / np.sqrt(horizon)


def forecast_market_volatility(daily: pd.DataFrame, trailing: pd.Series) -> pd.Series:
    """The annualized market volatility of the volatility target: the universe's forecast where one
    exists (daily: daily_forecast_volatility), the trailing volatility elsewhere; on trailing's index."""
    if UNIVERSE not in daily.columns:
        return trailing
    forecast = (daily[UNIVERSE] * np.sqrt(TRADING_DAYS)).reindex(trailing.index)
    return forecast.where(np.isfinite(forecast) & (forecast > 0), trailing)


def names_volatility(daily: pd.DataFrame, date, tickers) -> np.ndarray | None:
    """The daily forecast standard deviations of `tickers` at `date` (NaN where missing); None when the
    date has no forecast at all (the composition then uses trailing volatility only)."""
    ts = pd.Timestamp(date)
    if ts not in daily.index:
        return None
    row = daily.loc[ts].reindex(list(tickers)).to_numpy(dtype=float)
    return row if np.isfinite(row).any() else None
