"""The features and targets assets through Dagster on a real DuckDB warehouse holding synthetic OHLCV
prices (labelled test data) and a benchmark: stored columns and types, the benchmark as the market,
incremental runs equal to the full computation, metadata."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.targets import targets
from portfolio_dagster.config import load_config
from portfolio_dagster.partitions import year_pieces
from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant import targets as target_set
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from tests.test_features import synthetic_ohlcv

N_DAYS = 420
RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("features_asset")
    cfg = load_config().model_dump(mode="json")
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    px = synthetic_ohlcv(n_days=N_DAYS, tickers=("AAA", "BBB", "CCC", "SP500"))
    px["date"] = px["date"].dt.date
    warehouse.replace_where("prices", px.assign(source="test"))
    resources = {"settings": PipelineSettings(config_path=str(config_path)), "warehouse": warehouse}
    days = sorted(px["date"].unique())
    first, last = str(days[-30]), str(days[-2])
    ranged = dg.materialize(
        [features, targets], resources=resources, tags=dict(zip(RANGE, (first, last), strict=True))
    )
    assert ranged.success
    single = dg.materialize([features, targets], resources=resources, partition_key=str(days[-1]))
    assert single.success
    return {
        "warehouse": warehouse,
        "prices": px,
        "days": days,
        "ranged": ranged,
        "single": single,
        "config_path": str(config_path),
    }


def test_features_table_holds_every_feature_as_float_for_the_window_only(setup):
    wh, days = setup["warehouse"], setup["days"]
    stored = wh.query("SELECT * FROM features ORDER BY ticker, date")
    assert list(stored.columns) == ["ticker", "date", *feature_set.FEATURE_NAMES]
    assert set(stored["ticker"]) == {"AAA", "BBB", "CCC"}  # the benchmark is the market, not a row
    assert pd.to_datetime(stored["date"]).min().date() == days[-30] and len(stored) == 3 * 30
    types = wh.query(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'features' "
        "AND column_name = 'hurst_100'"
    )
    assert types["data_type"].iloc[0] == "FLOAT"
    nulls = wh.query("SELECT count(*) AS n FROM features WHERE adx_14 IS NULL OR isnan(adx_14)")
    assert nulls["n"].iloc[0] == 0


def test_incremental_runs_equal_the_full_history_with_the_benchmark_as_market(setup):
    px, wh = setup["prices"], setup["warehouse"]
    universe = px[px["ticker"] != "SP500"]
    market = px[px["ticker"] == "SP500"].set_index(pd.to_datetime(px.loc[px["ticker"] == "SP500", "date"]))[
        "close"
    ]
    full = feature_set.compute(universe, market).set_index(["ticker", "date"])
    stored = wh.query("SELECT * FROM features").assign(date=lambda f: pd.to_datetime(f["date"]))
    stored = stored.set_index(["ticker", "date"]).sort_index()
    expected = full.loc[stored.index, list(feature_set.FEATURE_NAMES)]
    np.testing.assert_allclose(
        stored.to_numpy(dtype=float), expected.to_numpy(dtype=float), rtol=1e-6, atol=1e-6
    )
    equal_weight = feature_set.compute(universe).set_index(["ticker", "date"]).loc[stored.index]
    assert not np.allclose(stored["mkt_beta_60d"], equal_weight["mkt_beta_60d"])


def test_feature_metadata_has_counts_nan_shares_and_the_newest_date(setup):
    meta = setup["single"].asset_materializations_for_node("features")[0].metadata
    assert meta["rows"].value == 3 and meta["features"].value == len(feature_set.FEATURE_NAMES)
    assert meta["selected_for_models"].value == len(feature_set.DEFAULT_MODEL_FEATURES)
    assert meta["newest"].value == str(setup["days"][-1])
    assert meta["market"].value == "benchmark SP500"
    assert set(meta["nan_share"].value) == set(feature_set.FEATURE_NAMES)
    assert meta["nan_share"].value["momentum_20d"] == 0


def test_targets_table_has_every_kind_with_labels_and_nulls_past_the_data(setup):
    wh = setup["warehouse"]
    stored = wh.query("SELECT * FROM targets ORDER BY ticker, date")
    assert set(target_set.target_columns((1, 5, 21, 63))) <= set(stored.columns)
    newest = stored[stored["date"] == stored["date"].max()]
    assert newest["return_1d"].isna().all() and newest["direction_1d"].isna().all()
    older = stored[stored["date"] == stored["date"].min()]
    assert older["risk_adj_return_5d"].notna().all() and older["significant_move_5d"].notna().all()
    types = wh.query(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'targets' "
        "AND column_name = 'direction_5d'"
    )
    assert types["data_type"].iloc[0] == "BOOLEAN"


def test_a_range_computed_in_yearly_pieces_equals_the_full_computation(tmp_path, monkeypatch):
    import portfolio_dagster.assets.features as features_asset

    assert year_pieces(dt.date(2003, 10, 6), dt.date(2006, 3, 1), 2) == [
        (dt.date(2003, 10, 6), dt.date(2005, 1, 1)),
        (dt.date(2005, 1, 1), dt.date(2006, 3, 1)),
    ]
    monkeypatch.setattr(features_asset, "PIECE_ROWS", 1)  # one calendar year a piece
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(load_config().model_dump(mode="json")))
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    px = synthetic_ohlcv(n_days=N_DAYS, tickers=("AAA", "BBB", "SP500"))
    px["date"] = px["date"].dt.date
    warehouse.replace_where("prices", px.assign(source="test"))
    days = sorted(px["date"].unique())
    resources = {"settings": PipelineSettings(config_path=str(config_path)), "warehouse": warehouse}
    tags = dict(zip(RANGE, (str(days[200]), str(days[-1])), strict=True))  # 2003-10 .. 2004-08
    result = dg.materialize([features], resources=resources, tags=tags)
    assert result.success
    assert result.asset_materializations_for_node("features")[0].metadata["rows"].value == 2 * (N_DAYS - 200)
    stored = warehouse.query("SELECT * FROM features").assign(date=lambda f: pd.to_datetime(f["date"]))
    stored = stored.set_index(["ticker", "date"]).sort_index()
    universe = px[px["ticker"] != "SP500"].assign(date=lambda f: pd.to_datetime(f["date"]))
    sp = px[px["ticker"] == "SP500"]
    market = pd.Series(sp["close"].to_numpy(), index=pd.to_datetime(sp["date"]))
    full = feature_set.compute(universe, market).set_index(["ticker", "date"]).loc[stored.index]
    np.testing.assert_allclose(
        stored[list(feature_set.FEATURE_NAMES)].to_numpy(dtype=float),
        full[list(feature_set.FEATURE_NAMES)].to_numpy(dtype=float),
        rtol=1e-6,
        atol=1e-6,
    )


def test_a_session_long_past_the_last_price_writes_no_rows_instead_of_failing(setup):
    # The daily schedule's tick on a real clock can name a session a year past a sample's last price:
    # the stages read an empty (but typed) price frame and write nothing.
    wh, days = setup["warehouse"], setup["days"]
    later = pd.bdate_range(days[-1] + dt.timedelta(days=400), periods=1)[0].strftime("%Y-%m-%d")
    before = wh.query("SELECT count(*) AS n FROM targets")["n"].iloc[0]
    resources = {"settings": PipelineSettings(config_path=setup["config_path"]), "warehouse": wh}
    result = dg.materialize([features, targets], resources=resources, partition_key=later)
    assert result.success
    rows = {
        stage: result.asset_materializations_for_node(stage)[0].metadata["rows"].value
        for stage in ("features", "targets")
    }
    assert rows == {"features": 0, "targets": 0}
    assert wh.query("SELECT count(*) AS n FROM targets")["n"].iloc[0] == before
