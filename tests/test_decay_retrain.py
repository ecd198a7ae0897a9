"""A retrain run requested by the decay sensor trains a new model set valid from the session after its
evidence, recorded with trigger 'decay' and its reason; forecasts from that session on use it (labelled
synthetic prices, as in test_models_assets)."""

import dagster as dg
import pandas as pd
import pytest

from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.models import models
from portfolio_dagster.resources.alerts import DECAY_RETRAIN_FINISHED, alerts_raised
from portfolio_dagster.run_tags import DECAY, REASON_TAG, TRIGGER_TAG, VALID_FROM_TAG
from tests.test_models_assets import RANGE_TAGS, _setup

VALID_FROM = "2007-06-15"  # a Friday session mid-period: not a yearly retrain date


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("decay")
    mp = pytest.MonkeyPatch()
    mp.setenv("PMX_HOME", str(root))
    warehouse, resources = _setup(root, enabled=["lightgbm", "bayesian_ridge"])
    assert dg.materialize([models], resources=resources).success
    before = warehouse.query("SELECT * FROM model_registry")
    decay = dg.materialize(
        [models],
        resources=resources,
        tags={TRIGGER_TAG: DECAY, VALID_FROM_TAG: VALID_FROM, REASON_TAG: "IC -0.08 <= 0 over 63 dates"},
    )
    assert decay.success
    assert dg.materialize([forecasts], resources=resources, tags=RANGE_TAGS).success
    yield warehouse, before, decay
    mp.undo()


def test_the_decay_run_trains_a_set_valid_from_the_next_session(retrained):
    warehouse, before, decay = retrained
    reg = warehouse.query("SELECT * FROM model_registry")
    assert set(before["trigger"]) == {"schedule"}
    new = reg[~reg["model_id"].isin(before["model_id"])]
    assert (
        len(new)
        and set(new["trigger"]) == {"decay"}
        and set(new["reason"]) == {"IC -0.08 <= 0 over 63 dates"}
    )
    assert set(pd.to_datetime(new["valid_from"]).dt.date.astype(str)) == {VALID_FROM}
    # Trained only on rows whose targets were realized before it serves (purge + embargo).
    assert (pd.to_datetime(new["train_end"]) < pd.Timestamp(VALID_FROM)).all()
    assert decay.get_asset_materialization_events()[0].materialization.metadata["trained"].value == len(new)
    assert alerts_raised(warehouse, DECAY_RETRAIN_FINISHED) == 1


def test_forecasts_from_that_session_on_use_it(retrained):
    warehouse, _, _ = retrained
    fc = warehouse.query("SELECT date, model_id FROM forecasts WHERE model = 'ensemble' AND horizon = 21")
    fc["date"] = pd.to_datetime(fc["date"])
    after = fc[fc["date"] >= VALID_FROM]
    before = fc[(fc["date"] < VALID_FROM) & (fc["date"] >= "2007-01-01")]
    assert len(after) and after["model_id"].str.contains("20070615").all()
    assert len(before) and not before["model_id"].str.contains("20070615").any()
