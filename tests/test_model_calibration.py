"""On the bundled sample (real prices): conformal intervals set on the calibration window (disjoint from
early stopping) cover the following test windows at their nominal rate; and on planted AR(1) returns
the 1-day direction is learned near its theoretical accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from model_data import SMALL_PARAMS
from skfolio.datasets import load_sp500_dataset

from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant import targets, walk_forward
from portfolio_dagster.quant.models import ENSEMBLE, INTERVAL_QUANTILES, family_class
from portfolio_dagster.quant.models.training import TrainingSpec, walk_forward_forecasts

NOMINAL = INTERVAL_QUANTILES[1] - INTERVAL_QUANTILES[0]


@pytest.fixture(scope="module")
def sample_rows():
    wide_close = load_sp500_dataset()
    px = (
        wide_close.rename_axis("date")
        .reset_index()
        .melt(id_vars="date", var_name="ticker", value_name="close")
    )
    px = px.dropna()[["ticker", "date", "close"]]
    px["date"] = pd.to_datetime(px["date"])
    px = px[px["date"] >= "1995-01-01"]
    rows = feature_set.compute(px).merge(targets.compute(px, (1, 21)), on=["ticker", "date"])
    return rows.sort_values(["date", "ticker"]).reset_index(drop=True)


@pytest.mark.parametrize("horizon", [1, 21])
def test_interval_coverage_on_the_following_test_windows_is_nominal_on_the_sample(sample_rows, horizon):
    spec = TrainingSpec(
        families=("bayesian_ridge", "lightgbm"),
        params=SMALL_PARAMS,
        feature_names=feature_set.DEFAULT_MODEL_FEATURES,
        horizon=horizon,
        embargo_days=5,
        validation_days=126,
        calibration_days=126,
        min_train_days=750,
    )
    calendar = pd.DatetimeIndex(sample_rows["date"].unique())
    schedule = walk_forward.retrain_dates(calendar, pd.Timestamp("2002-01-01").date(), "yearly")
    fc = walk_forward_forecasts(sample_rows, schedule, spec, targets.target_name(horizon))
    fc = (
        fc[fc["model"] == ENSEMBLE]
        .merge(sample_rows[["ticker", "date", targets.target_name(horizon)]], on=["ticker", "date"])
        .dropna()
    )
    actual = fc[targets.target_name(horizon)]
    covered = (actual >= fc["lower"]) & (actual <= fc["upper"])
    assert fc["valid_from"].nunique() >= 19 and len(fc) > 80_000
    assert abs(covered.mean() - NOMINAL) <= 0.03, covered.mean()


def _ar1_panel(days: int, phi: float, seed: int) -> pd.DataFrame:
    """Labelled synthetic: 10 tickers whose daily returns are AR(1) with coefficient phi; the feature is
    the last known return, the target the next one."""
    rng = np.random.default_rng(seed)
    r = np.zeros((days + 1, 10))
    for t in range(1, days + 1):
        r[t] = phi * r[t - 1] + 0.01 * rng.normal(size=10)
    dates = pd.bdate_range("2001-01-01", periods=days)
    return pd.DataFrame(
        {
            "ticker": np.tile([f"AR{i}" for i in range(10)], days),
            "date": np.repeat(dates, 10),
            "ret_1d": r[:-1].ravel(),
            "y": r[1:].ravel(),
        }
    )


THEORY_AR1 = 0.5 + np.arcsin(0.3) / np.pi  # 0.597 for phi = 0.3


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "bayesian_ridge", "lstm", "tcn"])
def test_planted_ar1_direction_is_learned_near_theory(family):
    rows = _ar1_panel(1000, 0.3, 3)
    dates = rows["date"].unique()
    fit, val = (
        rows[rows["date"] < dates[500]],
        rows[(rows["date"] >= dates[502]) & (rows["date"] < dates[650])],
    )
    test = rows[rows["date"] >= dates[652]]
    model = family_class(family)(SMALL_PARAMS[family], seed=7).fit(
        fit, fit["y"].to_numpy(), ["ret_1d"], val, val["y"].to_numpy()
    )
    accuracy = np.mean(np.sign(model.predict(test)) == np.sign(test["y"].to_numpy()))
    # 3,480 test rows: one standard error ~0.008.
    assert 0.58 <= accuracy <= THEORY_AR1 + 0.025, accuracy
