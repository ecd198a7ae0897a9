"""Walk-forward schedule with purge and embargo, in trading days of the data's calendar.

For a model first used at as-of date `asof` for horizon h:
- training rows: row t is eligible only if pos(t) + h + embargo < pos(asof): its target is realized
  strictly before `asof`, with an embargo gap against serial correlation (the purge);
- inside that window the last `validation_days` form the validation window (early stopping,
  conformal intervals, ensemble weights); fit rows are purged again against the validation start:
  pos(t) + h + embargo < pos(validation start).
- calibrated_split cuts the window in three instead, so no data serves twice: fit rows | purge |
  validation (early stopping only) | purge | calibration (the last `calibration_days`: conformal
  intervals and ensemble weights). Each earlier part is purged against the start of the next.
"""

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


@dataclass(frozen=True)
class Split:
    """A training window cut into purged fit rows and the later validation window."""

    window: TrainingWindow
    fit_end: pd.Timestamp | None  # last fit row date (purged against validation_start)
    validation_start: pd.Timestamp | None

    @property
    def asof(self) -> pd.Timestamp:
        return self.window.asof


def training_window(
    calendar: pd.DatetimeIndex,
    asof: pd.Timestamp,
    horizon: int,
    embargo: int,
    rolling_days: int | None = None,
) -> TrainingWindow:
    """Purge: a row dated t is eligible only if pos(t) + horizon + embargo < pos(asof)."""
    calendar = pd.DatetimeIndex(calendar).sort_values()
    pos = int(calendar.searchsorted(asof))
    last = pos - horizon - embargo - 1
    if last < 0:
        return TrainingWindow(asof, None, None)
    first = 0 if rolling_days is None else max(0, last - rolling_days + 1)
    return TrainingWindow(asof, calendar[first], calendar[last])


def split(
    calendar: pd.DatetimeIndex,
    asof: pd.Timestamp,
    horizon: int,
    embargo: int,
    validation_days: int,
    rolling_days: int | None = None,
) -> Split:
    """The split for a model used at `asof`: its purged, embargoed training window, the fit end and the
    validation start (the last `validation_days` of the window, purged from the fit rows)."""
    calendar = pd.DatetimeIndex(calendar).sort_values()
    win = training_window(calendar, asof, horizon, embargo, rolling_days)
    if win.empty or validation_days <= 0:
        return Split(win, win.end, None)
    last = int(calendar.searchsorted(win.end))
    first = int(calendar.searchsorted(win.start))
    val_first = max(first, last - validation_days + 1)
    fit_last = val_first - horizon - embargo - 1
    if fit_last < first:
        return Split(win, None, calendar[val_first])
    return Split(win, calendar[fit_last], calendar[val_first])


@dataclass(frozen=True)
class CalibratedSplit(Split):
    """fit rows (..fit_end) | purge | validation (validation_start..validation_end, early stopping) | purge |
    calibration (calibration_start..window.end: conformal intervals, ensemble weights)."""

    validation_end: pd.Timestamp | None
    calibration_start: pd.Timestamp | None


def calibrated_split(
    calendar: pd.DatetimeIndex,
    asof: pd.Timestamp,
    horizon: int,
    embargo: int,
    validation_days: int,
    calibration_days: int,
    rolling_days: int | None = None,
) -> CalibratedSplit:
    """The training window of `asof` in three disjoint, purged parts (any part may be empty when the
    window is too short: then it is None, and so are the parts before it)."""
    calendar = pd.DatetimeIndex(calendar).sort_values()
    win = training_window(calendar, asof, horizon, embargo, rolling_days)
    if win.empty:
        return CalibratedSplit(win, None, None, None, None)
    first, last = int(calendar.searchsorted(win.start)), int(calendar.searchsorted(win.end))
    gap = horizon + embargo + 1
    cal_first = max(first, last - calibration_days + 1)
    val_last = cal_first - gap
    val_first = max(first, val_last - validation_days + 1)
    fit_last = val_first - gap
    if val_last < first:
        return CalibratedSplit(win, None, None, None, calendar[cal_first])
    fit_end = calendar[fit_last] if fit_last >= first else None
    return CalibratedSplit(win, fit_end, calendar[val_first], calendar[val_last], calendar[cal_first])


def select(rows: pd.DataFrame, window: TrainingWindow) -> pd.DataFrame:
    """The rows of `rows` whose date lies in the training window."""
    if window.empty:
        return rows.iloc[0:0]
    dates = rows["date"]
    mask = dates <= window.end
    if window.start is not None:
        mask &= dates >= window.start
    return rows[np.asarray(mask)]


def date_slicer(rows: pd.DataFrame):
    """For rows sorted by date: slice(first, last) -> the rows dated first..last (inclusive; first None:
    from the first row) as a positional slice, no copy of the table. None when rows are not sorted by
    date (the caller masks instead)."""
    dates = rows["date"].to_numpy()
    if len(dates) > 1 and not bool(np.all(dates[1:] >= dates[:-1])):
        return None

    def slice_(first, last) -> pd.DataFrame:
        a = 0 if first is None else int(np.searchsorted(dates, np.datetime64(first), side="left"))
        b = int(np.searchsorted(dates, np.datetime64(last), side="right"))
        return rows.iloc[a:b]

    return slice_


def fit_and_validation(rows: pd.DataFrame, s: Split) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit rows, validation rows) of `rows` (with a `date` column) for split `s`."""
    inside = select(rows, s.window)
    fit = inside[np.asarray(inside["date"] <= s.fit_end)] if s.fit_end is not None else inside.iloc[0:0]
    val = (
        inside[np.asarray(inside["date"] >= s.validation_start)]
        if s.validation_start is not None
        else inside.iloc[0:0]
    )
    return fit, val


def fit_validation_calibration(
    rows: pd.DataFrame, s: CalibratedSplit
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(fit, validation, calibration) rows of `rows` (with a `date` column) for a calibrated split."""
    inside = select(rows, s.window)
    dates = inside["date"]
    none = inside.iloc[0:0]
    fit = inside[np.asarray(dates <= s.fit_end)] if s.fit_end is not None else none
    val = (
        inside[np.asarray((dates >= s.validation_start) & (dates <= s.validation_end))]
        if s.validation_start is not None
        else none
    )
    cal = inside[np.asarray(dates >= s.calibration_start)] if s.calibration_start is not None else none
    return fit, val, cal


def model_for_date(valid_from: pd.Series, asof: pd.Series) -> np.ndarray:
    """For each as-of date, the index into the sorted `valid_from` of the latest model usable then
    (-1: none)."""
    return np.searchsorted(valid_from.to_numpy(), asof.to_numpy(), side="right") - 1
