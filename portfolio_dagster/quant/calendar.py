"""The exchange's trading calendar (NYSE, XNYS): which dates are sessions."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd

EXCHANGE = "XNYS"
# Sessions per year: the one annualization factor of every return, volatility and Sharpe ratio.
TRADING_DAYS = 252
CALENDAR_START = "1990-01-01"


@functools.lru_cache(maxsize=1)
def _calendar():
    # Built once per process (about 1 s); exchange_calendars knows holidays and special closures
    # (9/11, Hurricane Sandy, state funerals) the plain weekday partitions do not.
    import exchange_calendars as xc

    return xc.get_calendar(EXCHANGE, start=CALENDAR_START)


@functools.lru_cache(maxsize=1)
def _all_sessions() -> np.ndarray:
    return _calendar().sessions.values.astype("datetime64[D]")


def sessions(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    """XNYS sessions with start <= date < end (the [start, end) convention of partition windows)."""
    days = _all_sessions()
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    return pd.DatetimeIndex(days[(days >= lo) & (days < hi)].astype("datetime64[ns]"))


def is_session(dates: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """A boolean per date: is it an XNYS trading day? Dates outside the calendar's span are False."""
    values = pd.to_datetime(pd.Series(dates)).values.astype("datetime64[D]")
    return np.isin(values, _all_sessions())


def last_session() -> dt.date:
    """The calendar's last known session (exchange_calendars projects holidays a year or so ahead)."""
    return pd.Timestamp(_all_sessions()[-1]).date()


def session_offset(day: dt.date, n: int) -> dt.date:
    """The session n sessions after (n > 0) or before (n < 0) `day`'s session (the last one <= day)."""
    days = _all_sessions()
    pos = int(np.searchsorted(days, np.datetime64(day, "D"), side="right")) - 1
    target = min(max(pos + n, 0), len(days) - 1)
    return pd.Timestamp(days[target]).date()


def session_count(first: dt.date, last: dt.date) -> int:
    """How many sessions after `first` up to and including `last` (0 when last <= first)."""
    days = _all_sessions()
    lo = np.searchsorted(days, np.datetime64(first, "D"), side="right")
    hi = np.searchsorted(days, np.datetime64(last, "D"), side="right")
    return max(int(hi - lo), 0)


def session_positions(dates) -> np.ndarray:
    """Each date's index in the XNYS session list (a non-session date: the last session before it)."""
    values = pd.DatetimeIndex(dates).values.astype("datetime64[D]")
    return np.searchsorted(_all_sessions(), values, side="right") - 1
