"""The risky sleeve's composition (weights summing to 1) from skfolio's optimizers.

- ml: MeanRisk maximizing mu - lambda * variance with the ML expected returns as the prior's mu
  (per day: the horizon forecast / horizon) and a Ledoit-Wolf covariance of the trailing daily
  returns; lambda = 1 / (2 * kelly_fraction), the utility whose optimum is fractional Kelly.
- rule_based: InverseVolatility over the same trailing returns.
With forecast volatilities (ML risk mode, quant/ml_risk.py) inverse volatility weighs by 1 / the forecast
and mean-variance keeps the Ledoit-Wolf correlations with the forecasts on the covariance's diagonal; a
name without a forecast keeps its trailing volatility.
Both run on scheduled rebalance dates only (a few hundred solves over the full sample).
"""

from __future__ import annotations

import numpy as np
from skfolio.measures import RiskMeasure
from skfolio.moments import BaseCovariance, BaseMu, LedoitWolf
from skfolio.optimization import InverseVolatility, MeanRisk, ObjectiveFunction
from skfolio.prior import EmpiricalPrior

from portfolio_dagster.quant.alpha import covariance_with_volatility


class GivenMu(BaseMu):
    """Expected returns supplied from outside (the ML forecasts) as skfolio's mu estimator."""

    def __init__(self, mu: np.ndarray | None = None) -> None:
        self.mu = mu

    def fit(self, X, y=None) -> GivenMu:
        self.mu_ = np.asarray(self.mu, dtype=float)
        return self


class ForecastVolatilityCovariance(BaseCovariance):
    """Ledoit-Wolf correlations of the returns with given daily standard deviations on the diagonal
    (quant/alpha.covariance_with_volatility: a non-finite or non-positive one keeps Ledoit-Wolf's)."""

    def __init__(self, volatility: np.ndarray | None = None) -> None:
        super().__init__()
        self.volatility = volatility

    def fit(self, X, y=None) -> ForecastVolatilityCovariance:
        lw = LedoitWolf().fit(X)
        vol = np.full(lw.covariance_.shape[0], np.nan) if self.volatility is None else self.volatility
        self.covariance_ = covariance_with_volatility(lw.covariance_, np.asarray(vol, dtype=float))
        self.location_ = lw.location_
        self.n_features_in_ = lw.n_features_in_
        return self


def composition(
    daily_returns: np.ndarray,
    mu_daily: np.ndarray | None,
    *,
    max_weight: float,
    kelly_fraction: float,
    volatility_daily: np.ndarray | None = None,
) -> np.ndarray:
    """Long-only weights summing to 1 over the columns; mu_daily None: inverse volatility.
    volatility_daily: forecast daily standard deviations per column (NaN: trailing); None: trailing only."""
    n = daily_returns.shape[1]
    if n == 1:
        return np.ones(1)
    covariance = LedoitWolf() if volatility_daily is None else ForecastVolatilityCovariance(volatility_daily)
    if mu_daily is None:
        if volatility_daily is not None:
            sd = np.sqrt(np.diag(covariance.fit(daily_returns).covariance_))
            return (1.0 / sd) / (1.0 / sd).sum()
        model = InverseVolatility(prior_estimator=EmpiricalPrior(covariance_estimator=covariance))
        return np.asarray(model.fit(daily_returns).weights_, dtype=float)
    # A cap the budget cannot meet (n * cap < 1) is left to the allocation's water-filling instead.
    cap = max_weight if n * max_weight >= 1.0 + 1e-9 else 1.0
    model = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_UTILITY,
        risk_measure=RiskMeasure.VARIANCE,
        risk_aversion=1.0 / (2.0 * kelly_fraction),
        max_weights=cap,
        prior_estimator=EmpiricalPrior(mu_estimator=GivenMu(mu_daily), covariance_estimator=covariance),
        fallback=InverseVolatility(),
        raise_on_failure=False,
    )
    w = np.clip(np.asarray(model.fit(daily_returns).weights_, dtype=float), 0.0, None)
    if not np.isfinite(w).all() or w.sum() <= 0:
        return np.full(n, 1.0 / n)
    return w / w.sum()
