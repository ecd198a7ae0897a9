"""Feature drift: PSI against a hand computation; the feature_drift check (a real Dagster run) compares the
inputs of the model set in use over the newest window with its training window, warns with the worst
features and alerts once; the drift sensor requests one retrain with a reason; the report shows it."""

from __future__ import annotations

import json
import math

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.report import drift_section
from portfolio_dagster.checks.drift import feature_drift
from portfolio_dagster.config import load_config
from portfolio_dagster.jobs.pipeline import retrain_job
from portfolio_dagster.quant.drift import ABSOLUTE, BEYOND_TRAINING, drifted, psi, training_baseline
from portfolio_dagster.quant.drift import feature_drift as drift_table
from portfolio_dagster.resources.alerts import DECAY_RETRAIN_REQUESTED, FEATURE_DRIFT
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from portfolio_dagster.sensors.decay import REASON_TAG
from portfolio_dagster.sensors.drift import TRIGGER_TAG, build_drift_sensor


def test_psi_matches_a_hand_computation():
    # Two bins cut at the training median 5.5: training shares 1/2, 1/2; recent 2/8 below, 6/8 above.
    hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi(np.arange(1, 11), [1, 2, 6, 7, 8, 9, 10, 11], bins=2) == pytest.approx(hand, abs=1e-12)
    assert hand == pytest.approx(0.274653, abs=1e-6)
    # Four bins on 1..8 (cuts 2.75, 4.5, 6.25): 1/4 each; recent [1, 1, 1, 7]: 3/4, 0, 0, 1/4, with the
    # empty bins floored at 1e-4.
    floor = 1e-4
    hand = (
        (0.75 - 0.25) * math.log(0.75 / 0.25)
        + 2 * (floor - 0.25) * math.log(floor / 0.25)
        + (0.25 - 0.25) * math.log(1.0)
    )
    assert psi(np.arange(1, 9), [1, 1, 1, 7], bins=4, floor=floor) == pytest.approx(hand, abs=1e-12)
    # A value on a cut goes to the bin above it: 5.5 counts with 6..10.
    assert psi(np.arange(1, 11), [5.5, 6.0], bins=2) == psi(np.arange(1, 11), [7.0, 8.0], bins=2)


def test_psi_edge_cases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    assert psi(x, x) == 0.0
    assert psi(np.append(x, [np.nan, np.inf]), np.append(x, -np.inf)) == 0.0  # non-finite left out
    assert math.isnan(psi(x[:5], x))  # fewer values than bins
    assert math.isnan(psi(x, [np.nan]))
    assert psi(np.ones(50), np.ones(10)) == 0.0  # a constant: one bin
    table = drift_table(pd.DataFrame({"a": x, "b": x}), pd.DataFrame({"a": x + 1.0, "b": x}), ["b", "a"])
    assert list(table["feature"]) == ["a", "b"] and table["psi"].iat[0] > 0.2 and table["psi"].iat[1] == 0.0


def test_training_baseline_is_the_psi_of_the_training_windows_and_the_beyond_training_rule():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2019-01-01", periods=130)  # two full 63-day windows and a 4-day tail
    walk = np.cumsum(rng.normal(size=130))  # persistent: windows cover narrow ranges
    train = pd.DataFrame(
        {"date": np.repeat(dates, 2), "slow": np.repeat(walk, 2), "fast": rng.normal(size=260)}
    )
    base = training_baseline(train, ["slow", "fast"], 63).set_index("feature")
    by_window = {
        name: [
            psi(train[name], train.loc[train["date"].isin(dates[i * 63 : (i + 1) * 63]), name])
            for i in range(2)
        ]
        for name in ("slow", "fast")
    }
    for name, values in by_window.items():
        assert base.at[name, "baseline_max"] == pytest.approx(max(values), abs=1e-12)
        assert base.at[name, "baseline_median"] == pytest.approx(np.median(values), abs=1e-12)
    assert base.at["slow", "baseline_median"] > 0.2 > base.at["fast", "baseline_median"]
    # A recent window like one training window: above 0.2 in absolute terms, not beyond training.
    recent = train[train["date"].isin(dates[:63])]
    table = drift_table(train, recent, ["slow", "fast"], window_days=63)
    slow = table["feature"] == "slow"
    assert drifted(table, 0.2, ABSOLUTE)[slow].all()
    assert not drifted(table, 0.2, BEYOND_TRAINING)[slow].any()
    # A move beyond anything in training is drift under both rules.
    moved = recent.assign(slow=recent["slow"] + 100.0)
    table = drift_table(train, moved, ["slow"], window_days=63)
    assert drifted(table, 0.2, BEYOND_TRAINING).all() and drifted(table, 0.2, ABSOLUTE).all()


TRAIN = ("2019-01-01", "2019-12-31")
SET_ID = "set-h21-20200102-test"


def drift_warehouse(root) -> tuple[dict, Warehouse, pd.DataFrame]:
    """Features 2019-01..2020-08 for 3 tickers: vol_20d moves from ~0.2 to ~0.4 in 2020, ret_5d does not;
    a model set trained on 2019 whose ensemble forecast of the newest day is in `forecasts`."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2019-01-01", "2020-08-31")
    frame = pd.DataFrame([(t, d) for d in dates for t in ("AAA", "BBB", "CCC")], columns=["ticker", "date"])
    later = frame["date"] >= pd.Timestamp("2020-01-01")
    frame["vol_20d"] = rng.normal(0.2, 0.02, len(frame)) + np.where(later, 0.2, 0.0)
    frame["ret_5d"] = rng.normal(0.0, 0.02, len(frame))
    frame["date"] = frame["date"].dt.date
    wh = Warehouse(path=str(root / "warehouse.duckdb"))
    wh.append("features", frame)
    wh.append(
        "model_registry",
        pd.DataFrame(
            [
                {
                    "model_id": "ensemble-test",
                    "model_type": "ensemble",
                    "horizon": 21,
                    "train_start": TRAIN[0],
                    "train_end": TRAIN[1],
                    "valid_from": "2020-01-02",
                    "trained_at": pd.Timestamp("2020-01-01"),
                    "config_hash": "test",
                    "features": json.dumps(["vol_20d", "ret_5d", "not_a_feature"]),
                    "metrics": "{}",
                    "artifact": "-",
                    "artifact_sha256": "-",
                    "model_set_id": SET_ID,
                }
            ]
        ),
    )
    wh.append(
        "forecasts",
        pd.DataFrame(
            {
                "ticker": ["AAA"],
                "date": [dates[-1].date()],
                "horizon": [21],
                "model": ["ensemble"],
                "prediction": [0.01],
                "model_id": ["ensemble-test"],
            }
        ),
    )
    cfg = load_config().model_dump(mode="json")
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    resources = {
        "settings": PipelineSettings(config_path=str(path)),
        "warehouse": wh,
        "artifacts": ArtifactStore(root=str(root)),
    }
    return resources, wh, frame


@dg.asset(name="forecasts")
def forecasts_in_warehouse() -> None:
    """Stands for the forecasts asset: its rows are already in the warehouse."""


def test_drift_check_warns_with_the_worst_features_and_alerts_once(pmx_home, tmp_path):
    resources, wh, frame = drift_warehouse(tmp_path)
    for _ in range(2):
        result = dg.materialize([forecasts_in_warehouse, feature_drift], resources=resources)
        assert result.success  # a warning never stops the run
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in check.metadata.items()}
    assert meta["model_set_id"] == SET_ID and meta["drifting_features"] == 1 and meta["inputs"] == 2
    assert meta["training_window"] == "2019-01-01..2019-12-31"
    # The newest 63 sessions up to the forecast date.
    newest = sorted(frame["date"].unique())[-63:]
    assert meta["recent_window"] == f"{newest[0]}..{newest[-1]}"
    assert meta["worst_features"].splitlines()[2].startswith("| vol_20d |")
    # The same PSI as quant.drift on exactly those windows (default 10 bins).
    train = frame[
        (frame["date"] >= pd.Timestamp(TRAIN[0]).date()) & (frame["date"] <= pd.Timestamp(TRAIN[1]).date())
    ]
    recent = frame[frame["date"] >= newest[0]]
    assert meta["psi"]["vol_20d"] == pytest.approx(psi(train["vol_20d"], recent["vol_20d"]), abs=1e-4)
    assert meta["psi"]["vol_20d"] > 5 and meta["psi"]["ret_5d"] < 0.1
    alerts = wh.query("SELECT kind, message, details FROM alerts")
    assert list(alerts["kind"]) == [FEATURE_DRIFT]  # two runs, one drifted model set: one alert
    assert (
        "feature drift: PSI above 0.2 and beyond every training window's on 1 of 2 model inputs (vol_20d"
        in alerts["message"].iat[0]
    )
    assert json.loads(alerts["details"].iat[0])["model_set_id"] == SET_ID

    section = drift_section(wh, resources["settings"].config)
    assert section.table["feature"].iat[0] == "vol_20d" and SET_ID in section.caption


def test_the_training_side_is_computed_once_per_model_set_and_again_for_a_new_history(tmp_path, monkeypatch):
    """A session's drift check reads the model set's training profile from the cache (the same table as
    computed); features recomputed in the training window are a new key, so the profile is recomputed."""
    from portfolio_dagster.resources import feature_drift as drift_resource

    resources, wh, _ = drift_warehouse(tmp_path)
    cfg, cache = resources["settings"].config, resources["artifacts"].drift_profiles_dir
    computed = drift_resource.drift_report(wh, cfg.operations, 21, cache)
    assert len(list(cache.glob("*.json"))) == 1

    def no_profile(*args, **kwargs):
        raise AssertionError("recomputed a cached training profile")

    monkeypatch.setattr(drift_resource, "training_profile", no_profile)
    cached = drift_resource.drift_report(wh, cfg.operations, 21, cache)
    pd.testing.assert_frame_equal(computed.table, cached.table, check_exact=True)
    assert cached.train_window == computed.train_window == "2019-01-01..2019-12-31"
    monkeypatch.undo()
    with wh.connect() as con:  # a feature recomputed inside the training window
        con.execute("UPDATE features SET ret_5d = ret_5d + 0.01 WHERE date = '2019-06-03'")
    drift_resource.drift_report(wh, cfg.operations, 21, cache)
    assert len(list(cache.glob("*.json"))) == 2


def test_no_model_set_in_use_passes_with_a_note(tmp_path):
    resources, wh, _ = drift_warehouse(tmp_path)
    with wh.connect() as con:
        con.execute("DELETE FROM forecasts")
    result = dg.materialize([forecasts_in_warehouse, feature_drift], resources=resources)
    check = result.get_asset_check_evaluations()[0]
    assert check.passed and "no model set in use" in check.metadata["note"].value


def test_drift_sensor_requests_one_retrain_with_a_reason(pmx_home, tmp_path):
    resources, wh, _ = drift_warehouse(tmp_path)
    cfg = resources["settings"].config
    off = build_drift_sensor(cfg)
    with dg.build_sensor_context(resources=resources) as context:  # the warehouse has setup/teardown
        result = off(context)
    assert not result.run_requests and "drift_requests_retrain is off" in result.skip_reason.skip_message

    path = tmp_path / "on.yaml"
    dump = cfg.model_dump(mode="json")
    dump["operations"]["drift_requests_retrain"] = True
    path.write_text(yaml.safe_dump(dump))
    on = {**resources, "settings": PipelineSettings(config_path=str(path))}
    sensor = build_drift_sensor(on["settings"].config)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.build_sensor_context(resources=on) as context:
        result = sensor(context)
    [request] = result.run_requests
    assert request.job_name == retrain_job.name and request.tags[TRIGGER_TAG] == "drift"
    assert request.tags[REASON_TAG].startswith(
        "feature drift: PSI above 0.2 and beyond every training window's on 1 of 2 model inputs (vol_20d"
    )
    assert result.cursor == SET_ID
    with dg.build_sensor_context(cursor=result.cursor, resources=on) as context:
        again = sensor(context)
    assert not again.run_requests and "already requested" in again.skip_reason.skip_message
    alerts = wh.query("SELECT kind, details FROM alerts")
    assert list(alerts["kind"]) == [DECAY_RETRAIN_REQUESTED]
    assert json.loads(alerts["details"].iat[0])["trigger"] == "drift"


def test_report_shows_the_drift_section():
    from test_backtest_evaluation import synthetic_inputs

    from portfolio_dagster.quant.evaluation import evaluate
    from portfolio_dagster.quant.report import DriftSection, ReportData, render_html

    inputs = synthetic_inputs(n_days=300)
    result = evaluate(inputs)
    alloc = inputs.allocations.assign(sleeve="risky")
    table = drift_table(
        pd.DataFrame({"vol_20d": np.linspace(0, 1, 500), "ret_5d": np.linspace(0, 1, 500)}),
        pd.DataFrame({"vol_20d": np.linspace(0.8, 1.8, 60), "ret_5d": np.linspace(0, 1, 60)}),
        ["vol_20d", "ret_5d"],
    )
    common = dict(
        title="t",
        summary=result.summary,
        daily=result.daily[["date", "strategy", "net_return", "equity"]],
        rolling=result.rolling.assign(window_days=252),
        allocations=alloc,
        regimes=inputs.regimes,
        regime_performance=result.regimes,
        criteria=result.criteria,
        variants=result.variants,
        spans=pd.DataFrame(columns=["ticker", "first", "last", "days"]),
        latest=alloc.head(0),
    )
    page = render_html(
        ReportData(**common, drift=DriftSection(table, 0.2, "Model set S: newest vs training."))
    )
    section = page.split("Feature drift of the model inputs")[1].split("<h2>")[0]
    assert "1 of 2 inputs drifted</b> (PSI &gt; 0.2): vol_20d." in section
    assert "Model set S: newest vs training." in section
    assert section.index("vol_20d") < section.index("ret_5d") and '<td class="fail">FAIL</td>' in section
    assert "Not measured." in render_html(ReportData(**common)).split("Feature drift of the model inputs")[1]


@pytest.fixture(scope="module")
def sample_drift(tmp_path_factory):
    """The bundled sample's features (model inputs) with the newest model set of the default config: its
    expanding training window to the purge before its retrain date, in use for the sample's last day."""
    from portfolio_dagster.quant import features as feature_set
    from portfolio_dagster.quant import walk_forward
    from portfolio_dagster.quant.models.training import model_feature_names
    from portfolio_dagster.resources.sources import sample_prices

    root = tmp_path_factory.mktemp("sample_drift")
    cfg = load_config()
    px = sample_prices(cfg.data.benchmark)
    index, stocks = px[px["ticker"] == cfg.data.benchmark], px[px["ticker"] != cfg.data.benchmark]
    names = list(model_feature_names(cfg.features.selected))
    market = pd.Series(index["close"].to_numpy(), index=pd.to_datetime(index["date"]))
    feats = feature_set.compute(stocks, market)[["ticker", "date", *names]]
    calendar = pd.DatetimeIndex(feats["date"].unique()).sort_values()
    h, m = cfg.strategy.signal_horizon, cfg.models
    asof = walk_forward.retrain_dates(calendar, cfg.backtest.start, m.retrain_frequency)[-1]
    window = walk_forward.training_window(calendar, asof, h, m.embargo_days)
    registry = {
        "model_id": "ensemble-sample",
        "model_type": "ensemble",
        "horizon": h,
        "train_start": window.start.date(),
        "train_end": window.end.date(),
        "valid_from": asof.date(),
        "trained_at": pd.Timestamp("2022-01-01"),
        "config_hash": "sample",
        "features": json.dumps(names),
        "metrics": "{}",
        "artifact": "-",
        "artifact_sha256": "-",
        "model_set_id": "set-sample",
    }
    forecast = {
        "ticker": "AAPL",
        "date": calendar[-1].date(),
        "horizon": h,
        "model": "ensemble",
        "prediction": 0.0,
        "model_id": "ensemble-sample",
    }

    def warehouse(name: str, frame: pd.DataFrame, rule: str | None = None) -> dict:
        wh = Warehouse(path=str(root / f"{name}.duckdb"))
        wh.append("features", frame.assign(date=frame["date"].dt.date))
        wh.append("model_registry", pd.DataFrame([registry]))
        wh.append("forecasts", pd.DataFrame([forecast]))
        data = cfg.model_dump(mode="json")
        if rule is not None:
            data["operations"]["drift_rule"] = rule
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return {
            "settings": PipelineSettings(config_path=str(path)),
            "warehouse": wh,
            "artifacts": ArtifactStore(root=str(root / name)),
        }

    return feats, calendar, warehouse


def _drift_check(resources: dict) -> dg.AssetCheckEvaluation:
    result = dg.materialize([forecasts_in_warehouse, feature_drift], resources=resources)
    return result.get_asset_check_evaluations()[0]


def test_default_drift_rule_passes_on_the_bundled_sample(sample_drift, pmx_home):
    feats, _, warehouse = sample_drift
    assert load_config().operations.drift_rule == BEYOND_TRAINING
    check = _drift_check(warehouse("default", feats))
    meta = {k: v.value for k, v in check.metadata.items()}
    assert check.passed and meta["drifting_features"] == 0 and meta["inputs"] == 30
    # What the absolute rule said on the same data: slow inputs (vol_252d ...) above 0.2 with no drift.
    assert meta["above_threshold"] >= 5
    absolute = _drift_check(warehouse("absolute", feats, ABSOLUTE))
    assert not absolute.passed and absolute.metadata["drifting_features"].value == meta["above_threshold"]


def test_default_drift_rule_fails_on_a_planted_shift_of_the_sample(sample_drift, pmx_home):
    feats, calendar, warehouse = sample_drift
    recent = feats["date"] >= calendar[-63]
    planted = feats.assign(vol_20d=np.where(recent, feats["vol_20d"] * 3 + 1.0, feats["vol_20d"]))
    check = _drift_check(warehouse("planted", planted))
    meta = {k: v.value for k, v in check.metadata.items()}
    assert not check.passed and meta["drifting_features"] == 1
    assert meta["worst_features"].splitlines()[2].startswith("| vol_20d |")
