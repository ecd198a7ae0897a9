"""Signals: expected return, confidence of its sign and a fractional multi-asset Kelly size.

Two sources share one shape (ticker, date, expected_return, confidence, position_size, source):
- `ml`: the ensemble forecast at the signal horizon; confidence is the probability that the realized
  return has the forecast's sign under a normal predictive whose spread comes from the conformal
  10%/90% interval.
- `rule_based`: 12-1 month momentum scaled to the horizon; confidence is the same probability with the
  spread from trailing volatility.
Position size (both): fractional Kelly for many assets, w = f * inv(Sigma_h) mu, with Sigma_h the
Ledoit-Wolf shrunk covariance of the trailing daily returns (to the previous month's last close, so
dated < the signal date; re-estimated monthly) times the horizon. Sizes are signed and uncapped: the
caps are the allocation's job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from scipy.stats import norm
from sklearn.covariance import ledoit_wolf

from portfolio_dagster.quant.alpha import covariance_with_volatility, with_skill_alpha
from portfolio_dagster.quant.models import INTERVAL_QUANTILES

SIGNAL_COLUMNS = ["ticker", "date", "expected_return", "confidence", "position_size", "source"]
ML, RULE_BASED = "ml", "rule_based"
MOMENTUM_DAYS, MOMENTUM_SKIP_DAYS, VOLATILITY_DAYS = 252, 21, 63
_Z = norm.ppf(INTERVAL_QUANTILES[1])
_MIN_SIGMA = 1e-6


def sign_confidence(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """P(realized return has the sign of mu) under N(mu, sigma^2)."""
    return norm.cdf(np.abs(mu) / np.maximum(sigma, _MIN_SIGMA))


def ml_expectations(forecasts: pd.DataFrame) -> pd.DataFrame:
    """forecasts: ticker, date, prediction, lower, upper (the ensemble at one horizon)."""
    sigma = ((forecasts["upper"] - forecasts["lower"]) / (2 * _Z)).to_numpy(dtype=float)
    mu = forecasts["prediction"].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "ticker": forecasts["ticker"].to_numpy(),
            "date": pd.to_datetime(forecasts["date"]).to_numpy(),
            "expected_return": mu,
            "confidence": sign_confidence(mu, np.nan_to_num(sigma)),
            "source": ML,
        }
    )


def momentum_expectations(close: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """close: date x ticker. Momentum over [t-252, t-21] as a drift per day, times the horizon."""
    log_close = np.log(close)
    drift = (log_close.shift(MOMENTUM_SKIP_DAYS) - log_close.shift(MOMENTUM_DAYS)) / (
        MOMENTUM_DAYS - MOMENTUM_SKIP_DAYS
    )
    vol = log_close.diff().rolling(VOLATILITY_DAYS).std()
    mu = np.expm1(drift * horizon)
    conf = pd.DataFrame(
        sign_confidence(mu.to_numpy(), (vol * np.sqrt(horizon)).to_numpy()),
        index=close.index,
        columns=close.columns,
    )
    out = pd.concat({"expected_return": mu, "confidence": conf}, axis=1).stack(future_stack=True)
    out.index.names = ["date", "ticker"]
    out = out.dropna().reset_index()
    return out.assign(source=RULE_BASED)[["ticker", "date", "expected_return", "confidence", "source"]]


def kelly_weights(mu: np.ndarray, covariance_h: np.ndarray, fraction: float) -> np.ndarray:
    """f * inv(Sigma_h) mu: the fractional Kelly weights of many assets (signed, uncapped)."""
    return fraction * np.linalg.solve(covariance_h, mu)


def monthly_covariances(
    close: pd.DataFrame, covariance_days: int
) -> dict[pd.Period, tuple[list[str], np.ndarray]]:
    """Per month: (tickers, daily Ledoit-Wolf covariance) from the `covariance_days` returns ending at the
    previous month's last close, i.e. known before any date of the month; tickers with a full window only.
    Re-estimated monthly instead of daily: ~280 fits instead of ~5,800 over the full sample."""
    returns = close.pct_change(fill_method=None)
    months = returns.index.to_period("M")
    last_of_month = np.flatnonzero(months[:-1] != months[1:])
    out = {}
    for i in last_of_month:
        if i + 1 < covariance_days:
            continue
        window = returns.iloc[i + 1 - covariance_days : i + 1]
        full = window.columns[window.notna().all().to_numpy()]
        if len(full):
            cov, _ = ledoit_wolf(window[full].to_numpy(), assume_centered=False)
            out[months[i + 1]] = (list(full), cov)
    return out


def add_kelly_sizes(
    expectations: pd.DataFrame,
    close: pd.DataFrame,
    horizon: int,
    fraction: float,
    covariance_days: int,
    volatility: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """position_size per (ticker, date): Kelly over the names with a covariance estimate for that
    date's month (names without one get 0). volatility (ticker, date, volatility: the h-session risk
    forecast made at the close of date): the covariance keeps its correlations and takes these
    standard deviations (quant/alpha.covariance_with_volatility); None: the trailing covariance's own.

    Kelly with covariance D C D (C the month's correlations, D the day's standard deviations) is
    D^-1 C^-1 D^-1 mu, so each month factors C once (Cholesky) per set of names and solves all its dates
    together: at 500 names a factorization per month instead of a dense solve per date."""
    covs = monthly_covariances(close, covariance_days)
    size = np.zeros(len(expectations))
    exp = expectations.reset_index(drop=True)
    tickers_all = exp["ticker"].to_numpy()
    mu_all = exp["expected_return"].to_numpy(dtype=float)
    vol_all = (
        exp[["ticker", "date"]]
        .merge(volatility[["ticker", "date", "volatility"]], on=["ticker", "date"], how="left")["volatility"]
        .to_numpy(dtype=float)
        if volatility is not None and len(volatility)
        else np.full(len(exp), np.nan)
    )
    dates = pd.DatetimeIndex(exp["date"])
    for month, month_rows in pd.Series(np.arange(len(exp))).groupby(dates.to_period("M")).indices.items():
        entry = covs.get(month)
        if entry is None:
            continue
        names, cov = entry
        position = pd.Index(names).get_indexer(tickers_all[month_rows])
        rows, position = month_rows[position >= 0], position[position >= 0]
        if not len(rows):
            continue
        by_names: dict[bytes, list[np.ndarray]] = {}
        for day in pd.Series(np.arange(len(rows))).groupby(dates[rows]).indices.values():
            by_names.setdefault(position[day].tobytes(), []).append(day)
        for days in by_names.values():
            sub = position[days[0]]
            block = rows[np.column_stack(days)]  # names x dates: each column one date's rows
            cov_sub = cov[np.ix_(sub, sub)]
            size[block] = _kelly_block(cov_sub, mu_all[block], vol_all[block], horizon, fraction)
    return exp.assign(position_size=size)


def _kelly_block(
    cov: np.ndarray, mu: np.ndarray, volatility: np.ndarray, horizon: int, fraction: float
) -> np.ndarray:
    """kelly_weights of each column of mu (one date's names) under the daily covariance `cov` over the
    horizon, its standard deviations replaced by that column's `volatility` where finite and positive:
    one Cholesky factor of the correlations for all columns. Where a name has no variance or the factor
    fails, each date is solved on its own."""
    sd = np.sqrt(np.diag(cov))
    forecast = np.isfinite(volatility) & (volatility > 0)
    if (sd > 0).all():
        scale = np.where(forecast, volatility, sd[:, None] * np.sqrt(horizon))
        try:
            factor = cho_factor(cov / np.outer(sd, sd), lower=True)
            return fraction * cho_solve(factor, mu / scale) / scale
        except np.linalg.LinAlgError:
            pass
    columns = []
    for j in range(mu.shape[1]):
        cov_h = cov * horizon
        if forecast[:, j].any():
            cov_h = covariance_with_volatility(cov_h, volatility[:, j])
        columns.append(kelly_weights(mu[:, j], cov_h, fraction))
    return np.column_stack(columns)


def build_signals(
    forecasts: pd.DataFrame,
    close: pd.DataFrame,
    dates: pd.DatetimeIndex,
    *,
    mode: str,
    horizon: int,
    kelly_fraction: float,
    covariance_days: int,
    volatility: pd.DataFrame | None = None,
    skill_alpha: bool = False,
) -> pd.DataFrame:
    """Signals on `dates`: ML where the ensemble forecast exists (mode 'ml'), rule-based elsewhere.
    close: date x ticker of the universe, dated <= the last of `dates`, with enough history before.
    volatility (ticker, date, volatility at the horizon): the Kelly covariance's diagonal (None: trailing).
    skill_alpha (mode 'ml'): the expected return is the rule's plus the ML score x its calibration IC
    (forecasts' `ic` column) x the name's volatility (the forecast, or the trailing one), quant/alpha."""
    dates = pd.DatetimeIndex(dates)
    if dates.empty or close.empty:  # a session past the data: nothing to decide
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    if mode == ML and skill_alpha:
        return _skill_alpha_signals(
            forecasts, close, dates, horizon, kelly_fraction, covariance_days, volatility
        )
    ml = ml_expectations(forecasts) if mode == ML and len(forecasts) else pd.DataFrame(columns=SIGNAL_COLUMNS)
    ml = ml[ml["date"].isin(dates)] if len(ml) else ml
    covered = set(pd.DatetimeIndex(ml["date"].unique())) if len(ml) else set()
    rule = momentum_expectations(close, horizon)
    rule = rule[rule["date"].isin(dates) & ~rule["date"].isin(covered)]
    exp = (
        pd.concat([f for f in (ml, rule) if len(f)], ignore_index=True)
        if len(ml) or len(rule)
        else pd.DataFrame(columns=SIGNAL_COLUMNS)
    )
    if exp.empty:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    exp["date"] = pd.to_datetime(exp["date"])
    exp = exp.sort_values(["date", "ticker"]).reset_index(drop=True)
    out = add_kelly_sizes(exp, close, horizon, kelly_fraction, covariance_days, volatility)
    return out[SIGNAL_COLUMNS]


def _skill_alpha_signals(
    forecasts: pd.DataFrame,
    close: pd.DataFrame,
    dates: pd.DatetimeIndex,
    horizon: int,
    kelly_fraction: float,
    covariance_days: int,
    volatility: pd.DataFrame | None,
) -> pd.DataFrame:
    """build_signals with skill_alpha: the rule's signals with the skill-scaled ML alpha added; source
    `ml` where a forecast with a positive IC moved the expected return."""
    rule = momentum_expectations(close, horizon)
    rule = rule[rule["date"].isin(dates)].reset_index(drop=True)
    if rule.empty:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    # The alpha's volatility: the forecast, or the trailing one (the Kelly covariance keeps its own then).
    alpha_vol = volatility
    if alpha_vol is None or not len(alpha_vol):
        trailing = np.log(close).diff().rolling(VOLATILITY_DAYS).std() * np.sqrt(horizon)
        alpha_vol = trailing.stack(future_stack=True).rename("volatility").rename_axis(["date", "ticker"])
        alpha_vol = alpha_vol.reset_index()
    ml = pd.DataFrame(columns=["ticker", "date", "prediction", "ic", "volatility"])
    if len(forecasts):
        f = forecasts.assign(date=pd.to_datetime(forecasts["date"]))
        ml = f[f["date"].isin(dates)][["ticker", "date", "prediction", "ic"]].merge(
            alpha_vol[["ticker", "date", "volatility"]], on=["ticker", "date"], how="left"
        )
    exp = with_skill_alpha(rule, ml)
    moved = exp[["ticker", "date"]].merge(
        ml.loc[ml["ic"].fillna(0) > 0, ["ticker", "date"]].assign(moved=True),
        on=["ticker", "date"],
        how="left",
    )["moved"]
    exp["source"] = np.where(moved.notna().to_numpy(), ML, RULE_BASED)
    exp = exp.sort_values(["date", "ticker"]).reset_index(drop=True)
    out = add_kelly_sizes(exp, close, horizon, kelly_fraction, covariance_days, volatility)
    return out[SIGNAL_COLUMNS]
