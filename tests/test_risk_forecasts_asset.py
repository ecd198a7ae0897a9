"""The risk_forecasts asset through Dagster on a warehouse of synthetic prices (labelled test data: GARCH
names with OHLC): every horizon and model per name and for the universe; a range materialized in two
runs equals one run; a price changed after T leaves the forecasts dated <= T unchanged."""

import collections
import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.risk_forecasts import risk_forecasts
from portfolio_dagster.quant import risk, risk_walk_forward
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
HORIZONS = [1, 5, 21]


def _prices(days=900, names=4, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    var, rows = np.full(names, 0.015**2), []
    close = np.full(names, 100.0)
    dates = pd.bdate_range("1995-01-02", periods=days)
    for d in dates:
        r = np.sqrt(var) * rng.standard_normal(names)
        var = 0.015**2 * 0.02 + 0.08 * r**2 + 0.90 * var
        prev, close = close, close * (1 + r)
        spread = np.abs(r) + 0.005
        for i in range(names):
            hi, lo = (
                max(prev[i], close[i]) * (1 + spread[i] / 2),
                min(prev[i], close[i]) * (1 - spread[i] / 2),
            )
            rows.append((f"S{i}", d, prev[i], hi, lo, close[i], 1e6))
    return pd.DataFrame(rows, columns=["ticker", "date", "open", "high", "low", "close", "volume"])


@pytest.fixture()
def setup(tmp_path):
    px = _prices()
    wh = Warehouse(path=str(tmp_path / "w.duckdb"))
    wh.replace_where("prices", px.assign(source="test"))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "targets": {"horizons": HORIZONS},
                "models": {"min_train_days": 300, "calibration_days": 60},
                "strategy": {"safe_assets": []},
                "data": {"benchmark": "NONE"},
            }
        )
    )
    return wh, cfg, px


def _run(wh, cfg, start, end):
    result = dg.materialize(
        [risk_forecasts],
        resources={
            "warehouse": wh,
            "settings": PipelineSettings(config_path=str(cfg)),
            "artifacts": ArtifactStore(root=str(cfg.parent)),
        },
        tags={RANGE[0]: start, RANGE[1]: end},
    )
    assert result.success
    q = "SELECT * EXCLUDE (valid_from) FROM risk_forecasts ORDER BY ticker, date, horizon, model"
    return wh.query(q)


def test_risk_forecasts_rows_and_resumed_range_equal_one_run(setup):
    wh, cfg, px = setup
    wh.replace_where(
        "model_metrics", pd.DataFrame({"model": ["ensemble"], "horizon": [21], "observations": [9]})
    )
    one = _run(wh, cfg, "1996-06-03", "1998-06-30")
    # model_metrics: one risk row per model and horizon (QLIKE, EWMA's on the same rows, DM p), the
    # return models' rows left alone.
    mm = wh.query("SELECT * FROM model_metrics ORDER BY model, horizon")
    assert set(mm["model"]) == {"ensemble"} | {f"risk_{m}" for m in (*risk.RISK_MODELS, risk.CHOSEN)}
    rows = mm[mm["model"] != "ensemble"]
    assert len(rows) == 5 * len(HORIZONS) and (rows["observations"] > 0).all()
    assert np.isfinite(rows[["risk_qlike", "risk_qlike_ewma"]]).all().all()
    ewma = rows[rows["model"] == "risk_ewma"]
    assert np.allclose(ewma["risk_qlike"], ewma["risk_qlike_ewma"]) and ewma["risk_dm_pvalue"].isna().all()
    assert rows.loc[rows["model"] != "risk_ewma", "risk_dm_pvalue"].between(0, 1).all()
    assert set(one["model"]) == {risk.EWMA, risk.HAR, risk.LOG_LINEAR, risk.LIGHTGBM, risk.CHOSEN}
    assert set(one["horizon"]) == set(HORIZONS)
    assert set(one["ticker"]) == {"S0", "S1", "S2", "S3", risk.UNIVERSE}
    assert (one["volatility"] > 0).all() and np.isfinite(one["volatility"]).all()
    wh.replace_where("risk_forecasts", pd.DataFrame(columns=risk.RISK_COLUMNS))
    _run(wh, cfg, "1996-06-03", "1997-03-31")
    two = _run(wh, cfg, "1997-04-01", "1998-06-30")
    pd.testing.assert_frame_equal(one, two)


def test_a_later_price_change_leaves_earlier_risk_forecasts_unchanged(setup):
    wh, cfg, px = setup
    before = _run(wh, cfg, "1997-06-02", "1997-07-31")
    changed = px.copy()
    late = changed["date"] > pd.Timestamp("1997-07-31")
    changed.loc[late, ["open", "high", "low", "close"]] *= 1.5
    wh.replace_where("prices", changed.assign(source="test"))
    after = _run(wh, cfg, "1997-06-02", "1997-07-31")
    pd.testing.assert_frame_equal(before, after)


def test_a_daily_session_reads_the_cached_fits_and_a_restated_history_refits(setup, monkeypatch):
    wh, cfg, px = setup
    fresh = _run(wh, cfg, "1998-01-05", "1998-01-09")
    cache = cfg.parent / "risk_models"
    headers = [json.loads(p.read_text()) for p in sorted(cache.glob("*.json"))]
    # A header per horizon and retrain date up to the session (yearly; the earlier dates lend their
    # calibration scores to the choice): the first date has too little history for a set at any horizon,
    # 1997's for the 21-session one (its longer purge), the rest have sets.
    by_date = collections.Counter((h["asof"], bool(h.get("no_set"))) for h in headers)
    assert HORIZONS == [1, 5, 21] and by_date == {
        ("1996-08-20", True): 3,
        ("1997-01-01", False): 2,
        ("1997-01-01", True): 1,
        ("1998-01-01", False): 3,
    }
    assert sorted(cache.glob("*.lightgbm.txt")) and sorted(cache.glob("*.npz"))

    def no_fit(*args, **kwargs):
        raise AssertionError("refitted a cached risk set")

    monkeypatch.setattr(risk_walk_forward, "train_risk_set", no_fit)
    again = _run(wh, cfg, "1998-01-05", "1998-01-09")
    pd.testing.assert_frame_equal(fresh, again, check_exact=True)
    # A history restated before the retrain date (a re-based split, say) is a different history: refit.
    monkeypatch.undo()
    restated = px.copy()
    restated.loc[restated["date"] < pd.Timestamp("1997-01-01"), ["open", "high", "low", "close"]] *= 0.5
    wh.replace_where("prices", restated.assign(source="test"))
    _run(wh, cfg, "1998-01-05", "1998-01-09")
    assert len(sorted(cache.glob("*.json"))) == 2 * len(headers)
