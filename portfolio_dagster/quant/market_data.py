"""Daily total-return indices of the safe sleeve from monthly rates: cash from the risk-free rate and a
long-duration bond proxy from corporate AAA yields. Monthly in, trading days out; nothing past the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

INDEX_START_VALUE = 100.0
# The bond proxy: a par bond of this maturity with semiannual coupons, repriced monthly.
BOND_MATURITY_YEARS = 20.0


def _spread_monthly(monthly_return: pd.Series, sessions: pd.DatetimeIndex) -> pd.Series:
    """Compound each month's return evenly over that month's sessions; sessions of months without a
    return are dropped (never invented). monthly_return is indexed by month-start Timestamps."""
    months = sessions.to_period("M")
    by_month = monthly_return.copy()
    by_month.index = pd.DatetimeIndex(by_month.index).to_period("M")
    rate = pd.Series(months.map(by_month.to_dict()), index=sessions, dtype=float)
    rate = rate.dropna()
    counts = pd.Series(rate.index.to_period("M")).value_counts()
    n = rate.index.to_period("M").map(counts).to_numpy(dtype=float)
    daily = np.power(1.0 + rate.to_numpy(), 1.0 / n) - 1.0
    return pd.Series(daily, index=rate.index)


def _index(daily: pd.Series) -> pd.Series:
    # The first session is the base: its own accrual is not in the index.
    growth = np.cumprod(1.0 + daily.to_numpy())
    return pd.Series(INDEX_START_VALUE * growth / growth[0], index=daily.index)


def cash_index(rf_percent_monthly: pd.Series, sessions: pd.DatetimeIndex) -> pd.Series:
    """Cash: the one-month T-bill return of month m (Fama-French RF, percent, known at the start of m)
    accrued over m's sessions."""
    return _index(_spread_monthly(rf_percent_monthly / 100.0, sessions))


def par_bond_price(coupon: np.ndarray, yld: np.ndarray, years: float) -> np.ndarray:
    """Price per 1 of face of a bond paying `coupon`/2 semiannually for `years`, at yield `yld`."""
    discount = np.power(1.0 + yld / 2.0, -2.0 * years)
    return coupon / yld * (1.0 - discount) + discount


def bond_monthly_returns(yield_percent: pd.Series, maturity_years: float = BOND_MATURITY_YEARS) -> pd.Series:
    """Month m's total return of a par bond bought at m-1's yield and repriced at m's yield, plus a month
    of coupon. Indexed by m."""
    y = yield_percent.astype(float) / 100.0
    coupon = y.shift(1)
    price = par_bond_price(coupon.to_numpy(), y.to_numpy(), maturity_years - 1.0 / 12.0)
    return (pd.Series(price, index=y.index) - 1.0 + coupon / 12.0).dropna()


def bond_index(
    yield_percent: pd.Series, sessions: pd.DatetimeIndex, maturity_years: float = BOND_MATURITY_YEARS
) -> pd.Series:
    """The bond proxy: Moody's monthly yields are month averages, known at the month's end, so month m's
    return is accrued over the sessions of month m+1 (point in time: a value dated d uses yields of
    months before d's month only)."""
    returns = bond_monthly_returns(yield_percent, maturity_years)
    returns.index = pd.DatetimeIndex(returns.index) + pd.offsets.MonthBegin(1)
    return _index(_spread_monthly(returns, sessions))
