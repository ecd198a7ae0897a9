"""Disjoint purged training windows and nested walk-forward selection among model configurations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from model_data import FEATURES, SMALL_PARAMS, panel

from portfolio_dagster.config import ConfigError, PipelineConfig
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.models.selection import (
    Candidate,
    candidates_from_config,
    choose,
    nested_walk_forward,
)
from portfolio_dagster.quant.models.training import TrainingSpec

CAL = pd.bdate_range("2001-01-01", periods=1500)


@pytest.mark.parametrize("horizon,embargo", [(1, 0), (5, 5), (21, 3)])
def test_calibrated_split_is_three_disjoint_purged_windows(horizon, embargo):
    rows = pd.DataFrame({"date": CAL})
    s = walk_forward.calibrated_split(CAL, CAL[1200], horizon, embargo, 100, 60)
    fit, val, cal = walk_forward.fit_validation_calibration(rows, s)
    pos = {d: i for i, d in enumerate(CAL)}
    assert len(val) == 100 and len(cal) == 60 and len(fit) > 500
    gap = horizon + embargo
    # Each part's targets end before the next part starts; the calibration's before the as-of date.
    assert pos[fit["date"].max()] + gap < pos[val["date"].min()]
    assert pos[val["date"].max()] + gap < pos[cal["date"].min()]
    assert pos[cal["date"].max()] + gap < pos[s.asof]
    # Tight: one day less of gap would be allowed to overlap (the purge is exactly h + embargo).
    assert pos[fit["date"].max()] + gap + 1 == pos[val["date"].min()]
    assert not set(fit["date"]) & set(val["date"]) and not set(val["date"]) & set(cal["date"])


def test_a_window_too_short_for_the_three_parts_leaves_the_early_parts_empty():
    s = walk_forward.calibrated_split(CAL, CAL[100], 5, 5, 60, 60)
    fit, val, cal = walk_forward.fit_validation_calibration(pd.DataFrame({"date": CAL}), s)
    assert fit.empty and len(cal) == 60 and len(val) < 60


def _spec(**kw) -> TrainingSpec:
    return TrainingSpec(
        families=("lightgbm",),
        params=SMALL_PARAMS,
        feature_names=tuple(FEATURES),
        horizon=1,
        embargo_days=2,
        validation_days=60,
        calibration_days=60,
        min_train_days=150,
        **kw,
    )


# The base learns a target unrelated to the features (its `excess_return_1d` column is noise here);
# `good` learns the forward return `y`, which f_signal predicts.
CANDIDATES = [Candidate("base", target_kind="excess_return"), Candidate("good")]


@pytest.fixture(scope="module")
def nested():
    rows = panel(days=1100, signal=0.5, seed=4)
    rows["excess_return_1d"] = np.random.default_rng(5).normal(size=len(rows))
    calendar = pd.DatetimeIndex(rows["date"].unique())
    schedule = walk_forward.retrain_dates(calendar, calendar[400].date(), "quarterly")
    forecasts, choices = nested_walk_forward(rows, schedule, _spec(), CANDIDATES, "y", min_dates=60)
    return rows, calendar, schedule, forecasts, choices


def test_nested_selection_never_reads_an_outer_test_date(nested):
    rows, calendar, schedule, forecasts, choices = nested
    assert len(choices) >= 8
    pos = {d: i for i, d in enumerate(calendar)}
    for c in choices:
        outer_end = schedule[list(schedule).index(c.asof) + 1] if c.asof != schedule[-1] else calendar[-1]
        if c.inner_last is not None:
            # Every inner date read has its target realized before the choice (purged), so no date of
            # the outer test window [asof, next retrain) is ever read.
            assert pos[c.inner_last] + 1 + 2 < pos[c.asof]
            assert not (c.asof <= c.inner_last < outer_end)
        # The outer window's forecasts come from the candidate chosen at its start.
        period = forecasts[(forecasts["valid_from"] == c.asof)]
        assert set(period["candidate"]) == {c.chosen} and period["date"].min() >= c.asof


def test_nested_selection_keeps_the_base_until_scored_then_picks_the_better_candidate(nested):
    _, _, _, forecasts, choices = nested
    assert choices[0].chosen == "base" and np.isnan(choices[0].scores["good"])
    later = [c for c in choices if all(np.isfinite(v) for v in c.scores.values())]
    assert later and all(c.chosen == "good" and c.scores["good"] > c.scores["base"] for c in later)
    assert forecasts[forecasts["model"] == "ensemble"]["prediction"].notna().all()


def test_choose_reads_only_dates_realized_before_the_asof():
    dates = pd.bdate_range("2010-01-01", periods=300)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"date": np.repeat(dates, 10), "prediction": rng.normal(size=3000)})
    frame["actual"] = frame["prediction"] + rng.normal(size=3000)
    bad = frame.assign(prediction=-frame["prediction"])
    asof = dates[200]
    # `late` is perfect only on dates at or after the purge boundary: the choice must not see it.
    late = bad.copy()
    boundary = late["date"] > dates[200 - 5 - 1 - 1]
    late.loc[boundary, "prediction"] = late.loc[boundary, "actual"] * 10
    c = choose(asof, {"base": frame, "late": late}, dates, horizon=5, embargo=1, min_dates=50)
    assert c.chosen == "base" and c.inner_last == dates[200 - 5 - 1 - 1] and c.scores["late"] < 0


def test_candidates_come_from_the_config_with_the_base_first():
    cfg = PipelineConfig.model_validate(
        {
            "models": {
                "target": "excess_return",
                "candidates": [
                    {
                        "name": "rank_lgb",
                        "target": "rank",
                        "params": {"lightgbm": {"objective": "lambdarank"}},
                    }
                ],
            }
        }
    )
    got = candidates_from_config(cfg.models)
    assert [(c.name, c.target_kind) for c in got] == [("base", "excess_return"), ("rank_lgb", "rank")]
    assert got[1].params == {"lightgbm": {"objective": "lambdarank"}}
    with pytest.raises(ValueError, match="distinct names"):
        PipelineConfig.model_validate({"models": {"candidates": [{"name": "base"}]}})
    with pytest.raises(ValueError, match="unknown model family"):
        PipelineConfig.model_validate({"models": {"candidates": [{"name": "x", "params": {"gbm": {}}}]}})
    assert ConfigError
