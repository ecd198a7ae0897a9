"""The models recover a planted cross-sectional signal at breadth (issue 22): a SYNTHETIC universe
(benchmarks/synthetic_universe.py) whose names have persistent drifts, seen by the trailing-return
features; the out-of-sample rank IC of a model set comes near the theoretical value of those features,
and a universe without drifts gives none."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from benchmarks.synthetic_universe import BENCHMARK, BOND, CASH, feature_ic, universe
from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant import targets
from portfolio_dagster.quant.metrics import cross_sectional_ic
from portfolio_dagster.quant.models.training import train_model_set, training_spec
from portfolio_dagster.quant.targets import target_name

HORIZON = 21
DRIFT_SD = 0.002  # strong enough that one test year of 80 names measures it
FEATURES = ("ret_252d", "ret_60d", "vol_20d", "ret_5d")


def _rows(drift_sd: float) -> pd.DataFrame:
    frame, _ = universe(80, 7, seed=3, drift_sd=drift_sd)
    px = frame.to_pandas()
    px["date"] = pd.to_datetime(px["date"])
    market = px[px["ticker"] == BENCHMARK].set_index("date")["close"]
    px = px[~px["ticker"].isin([BENCHMARK, CASH, BOND])]
    rows = feature_set.compute(px, market)[["ticker", "date", *FEATURES]]
    rows = rows.merge(targets.compute(px, (HORIZON,)), on=["ticker", "date"])
    return rows.sort_values(["date", "ticker"]).reset_index(drop=True)


def _oos_rank_ic(rows: pd.DataFrame, family: str) -> float:
    cfg = PipelineConfig()
    spec = dataclasses.replace(
        training_spec(cfg.models, HORIZON, list(FEATURES)),
        families=(family,),
        min_train_days=500,
    )
    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    asof = calendar[-300]
    model_set = train_model_set(rows, calendar, asof, target_name(HORIZON), spec)
    assert model_set is not None
    test = rows[rows["date"] >= asof].dropna(subset=[target_name(HORIZON)])
    pred = model_set.models[family].predict(test)
    frame = pd.DataFrame({"date": test["date"], "prediction": pred, "actual": test[target_name(HORIZON)]})
    return float(np.nanmean(cross_sectional_ic(frame, rank=True)))


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return _rows(DRIFT_SD)


@pytest.mark.parametrize("family", ["lightgbm", "bayesian_ridge"])
def test_models_recover_the_planted_drift(planted, family):
    theory = feature_ic(HORIZON, 252, drift_sd=DRIFT_SD)  # ~0.47: ret_252d's IC on the 21-day return
    ic = _oos_rank_ic(planted, family)
    assert 0.6 * theory < ic < 1.3 * theory, (ic, theory)


def test_no_drift_no_skill():
    ic = _oos_rank_ic(_rows(0.0), "bayesian_ridge")
    assert abs(ic) < 0.1, ic
