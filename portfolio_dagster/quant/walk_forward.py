"""Walk-forward schedule with purge and embargo, in trading days of the data's calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

_PERIOD = {"daily": "D", "weekly": "W", "monthly": "M", "quarterly": "Q", "yearly": "Y"}


def retrain_dates(calendar: pd.DatetimeIndex, start: dt.date, frequency: str) -> pd.DatetimeIndex:
    """The first trading day of each period on or after `start`."""
    days = pd.DatetimeIndex(calendar[calendar >= pd.Timestamp(start)]).sort_values()
    if days.empty:
        return days
    periods = days.to_period(_PERIOD[frequency])
    first = ~pd.Series(periods).duplicated().to_numpy()
    return days[first]


@dataclass(frozen=True)
class TrainingWindow:
    """Rows eligible to train the model first used at `asof` for one horizon."""

    asof: pd.Timestamp
    start: pd.Timestamp | None
    end: pd.Timestamp | None  # last eligible row date; its target is realized before `asof`

    @property
    def empty(self) -> bool:
        return self.end is None


def training_window(calendar: pd.DatetimeIndex, asof: pd.Timestamp, horizon: int, embargo: int,
                    rolling_days: int | None = None) -> TrainingWindow:
    """Purge: a row dated t is eligible only if pos(t) + horizon + embargo < pos(asof).

    The target of row t needs the close at pos(t) + horizon, so it is realized strictly before
    the as-of date; the embargo adds a gap against serial correlation across the boundary.
    """
    calendar = pd.DatetimeIndex(calendar).sort_values()
    pos = int(calendar.searchsorted(asof))
    last = pos - horizon - embargo - 1
    if last < 0:
        return TrainingWindow(asof, None, None)
    first = 0 if rolling_days is None else max(0, last - rolling_days + 1)
    return TrainingWindow(asof, calendar[first], calendar[last])


def select(rows: pd.DataFrame, window: TrainingWindow) -> pd.DataFrame:
    if window.empty:
        return rows.iloc[0:0]
    dates = rows["date"]
    mask = dates <= window.end
    if window.start is not None:
        mask &= dates >= window.start
    return rows[np.asarray(mask)]


def model_for_date(valid_from: pd.Series, asof: pd.Series) -> np.ndarray:
    """For each as-of date, the index into the sorted `valid_from` of the latest model usable then (-1: none)."""
    return np.searchsorted(valid_from.to_numpy(), asof.to_numpy(), side="right") - 1
