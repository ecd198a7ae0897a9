"""Which rows a model set learns from (issue 22): whole dates up to max_train_rows, the window's parts
selected by position from the date-sorted table exactly as the masks select them; and the targets' long
stacking of their panels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from model_data import FEATURES, panel

from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.models.base import subsample_dates
from portfolio_dagster.quant.models.training import _split_parts, train_model_set, training_spec


def test_subsample_dates_keeps_whole_dates_within_the_limit_and_is_seeded():
    dates = np.repeat(pd.bdate_range("2020-01-01", periods=100).to_numpy(), 7)
    dates = np.delete(dates, [3, 50, 51])  # some dates have fewer names
    idx = subsample_dates(dates, 250, seed=7)
    assert len(idx) <= 250 and np.all(np.diff(idx) > 0)
    kept = pd.Series(dates[idx]).value_counts()
    full = pd.Series(dates).value_counts()
    assert (kept == full.reindex(kept.index)).all()  # every kept date whole
    assert np.array_equal(idx, subsample_dates(dates, 250, seed=7))
    assert not np.array_equal(idx, subsample_dates(dates, 250, seed=8))
    assert np.array_equal(subsample_dates(dates, None, 7), np.arange(len(dates)))
    assert np.array_equal(subsample_dates(dates, len(dates), 7), np.arange(len(dates)))
    assert len(subsample_dates(dates, 1, 7)) in (6, 7)  # at least one date


def test_split_parts_select_the_rows_the_masks_select():
    rows = panel(days=400).sort_values(["date", "ticker"]).reset_index(drop=True)
    rows.loc[rows.sample(frac=0.1, random_state=1).index, "y"] = np.nan
    calendar = pd.DatetimeIndex(rows["date"].unique())
    s = walk_forward.calibrated_split(calendar, calendar[350], 5, 5, 40, 40)
    by_position = _split_parts(rows, s, ["y"])
    by_mask = walk_forward.fit_validation_calibration(rows.dropna(subset=["y"]), s)
    for a, b in zip(by_position, by_mask, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert _split_parts(rows.iloc[::-1], s, ["y"]) is None  # not date-sorted: the caller masks


def test_a_model_set_learns_from_whole_dates_up_to_max_train_rows():
    rows = panel(days=600).sort_values(["date", "ticker"]).reset_index(drop=True)
    calendar = pd.DatetimeIndex(rows["date"].unique())
    params = {"lightgbm": {"n_estimators": 10, "max_train_rows": 1000}, "bayesian_ridge": {}}
    spec = dataclasses.replace(
        training_spec(PipelineConfig().models, 5),
        families=("lightgbm", "bayesian_ridge"),
        params=params,
        feature_names=tuple(FEATURES),
        min_train_days=100,
    )
    ms = train_model_set(rows, calendar, calendar[500], "y", spec)
    lgb, ridge = ms.metrics["lightgbm"], ms.metrics["bayesian_ridge"]
    assert lgb["fit_rows"] <= 1000 and lgb["fit_rows"] % len(set(rows["ticker"])) == 0
    assert ridge["fit_rows"] == ridge["fit_rows_available"] == lgb["fit_rows_available"] > 1000
    again = train_model_set(rows, calendar, calendar[500], "y", spec)
    x = rows[rows["date"] >= calendar[500]]
    assert np.array_equal(ms.models["lightgbm"].predict(x), again.models["lightgbm"].predict(x))


def test_long_panels_stack_like_pandas_with_and_without_all_nan_rows():
    from portfolio_dagster.quant.panel import long

    rng = np.random.default_rng(0)
    index, columns = pd.bdate_range("2020-01-01", periods=40), ["B", "A", "C"]
    panels = {
        name: pd.DataFrame(np.where(rng.random((40, 3)) < 0.4, np.nan, rng.random((40, 3))), index, columns)
        for name in ("x", "y")
    }
    for p in panels.values():
        p.iloc[5, :] = np.nan
    for dropna_all in (True, False):
        stacked = pd.concat({n: p.stack(future_stack=True) for n, p in panels.items()}, axis=1)
        stacked.index.names = ["date", "ticker"]
        stacked = stacked.dropna(how="all") if dropna_all else stacked
        expected = stacked.reset_index()[["ticker", "date", "x", "y"]]
        pd.testing.assert_frame_equal(long(panels, dropna_all), expected)
