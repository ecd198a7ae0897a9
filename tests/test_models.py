"""Each model family: determinism, save/load round trip in native formats, clear artifact errors,
calibrated intervals, skill on a predictable synthetic component and chance on random walks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from model_data import FEATURES, SMALL_PARAMS, panel

from portfolio_dagster.quant.models import (
    FAMILIES,
    INTERVAL_QUANTILES,
    ArtifactError,
    Ensemble,
    family_class,
    load_model,
)
from portfolio_dagster.quant.models.ensemble import information_coefficient
from portfolio_dagster.quant.significance import rank_ic_stats

NATIVE = {
    "lightgbm": ".txt",
    "xgboost": ".ubj",
    "tcn": ".pt",
    "lstm": ".pt",
    "bayesian_ridge": ".npz",
    "regime_adaptive": ".npz",
}


def _fit(family: str, rows, seed: int = 7):
    fit, val = (
        rows[rows["date"] < rows["date"].unique()[300]],
        rows[rows["date"] >= rows["date"].unique()[310]],
    )
    model = family_class(family)(SMALL_PARAMS[family], seed=seed, threads=1)
    return model.fit(fit, fit["y"].to_numpy(), FEATURES, val, val["y"].to_numpy()), val


@pytest.fixture(scope="module")
def rows():
    return panel(days=400)


@pytest.mark.parametrize("family", FAMILIES)
def test_two_fits_give_identical_predictions(family, rows):
    a, val = _fit(family, rows)
    b, _ = _fit(family, rows)
    assert np.array_equal(a.predict(val), b.predict(val))
    assert a.residual_quantiles == b.residual_quantiles


@pytest.mark.parametrize("family", FAMILIES)
def test_save_load_predicts_the_same_from_native_files(family, rows, tmp_path):
    model, val = _fit(family, rows)
    manifest = model.save(tmp_path / f"{family}-model")
    meta = json.loads(manifest.read_text())
    assert meta["native_file"].endswith(NATIVE[family]) and meta["feature_names"] == FEATURES
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pickle"))
    loaded = load_model(manifest)
    assert type(loaded) is type(model)
    for got, want in zip(loaded.predict_interval(val), model.predict_interval(val), strict=True):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("family", FAMILIES)
def test_missing_or_corrupt_artifacts_are_clear_errors(family, rows, tmp_path):
    model, _ = _fit(family, rows)
    manifest = model.save(tmp_path / "m")
    native = tmp_path / json.loads(manifest.read_text())["native_file"]
    native.write_bytes(native.read_bytes()[: len(native.read_bytes()) // 2])
    with pytest.raises(ArtifactError, match="corrupt"):
        load_model(manifest)
    native.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_model(manifest)
    with pytest.raises(ArtifactError, match="missing"):
        load_model(tmp_path / "nothing.json")
    manifest.write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_model(manifest)


def test_native_reader_errors_are_artifact_errors(rows, tmp_path):
    """A native file that matches its recorded checksum but does not parse (a forged manifest)."""
    model, _ = _fit("lightgbm", rows)
    manifest = model.save(tmp_path / "m")
    meta = json.loads(manifest.read_text())
    native = tmp_path / meta["native_file"]
    native.write_text("not a lightgbm model")
    import hashlib

    meta["native_sha256"] = hashlib.sha256(native.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="corrupt"):
        load_model(manifest)


@pytest.fixture(scope="module")
def predictable():
    rows = panel(days=1000, signal=1.0, seed=1)
    dates = rows["date"].unique()
    fit = rows[rows["date"] < dates[500]]
    val = rows[(rows["date"] >= dates[505]) & (rows["date"] < dates[700])]
    test = rows[rows["date"] >= dates[700]]
    return fit, val, test


THEORETICAL_MAX = 0.5 + np.arcsin(1 / np.sqrt(2)) / np.pi  # 0.75


@pytest.mark.parametrize("family", FAMILIES)
def test_predictable_component_reaches_near_the_theoretical_accuracy(family, predictable):
    fit, val, test = predictable
    model = family_class(family)(SMALL_PARAMS[family], seed=7).fit(
        fit, fit["y"].to_numpy(), FEATURES, val, val["y"].to_numpy()
    )
    pred, lower, upper = model.predict_interval(test)
    y = test["y"].to_numpy()
    accuracy = np.mean(np.sign(pred) == np.sign(y))
    # 2,400 test rows: one standard error of an accuracy near 0.75 is ~0.009.
    assert THEORETICAL_MAX - 0.04 < accuracy <= THEORETICAL_MAX + 0.03
    coverage = np.mean((y >= lower) & (y <= upper))
    assert abs(coverage - (INTERVAL_QUANTILES[1] - INTERVAL_QUANTILES[0])) < 0.04
    perm = model.permutation_importance(val, val["y"].to_numpy())
    assert perm[0] > 0 and perm[0] > 10 * abs(perm[1])  # the signal feature matters, the noise does not


@pytest.mark.parametrize("family", FAMILIES)
def test_random_walk_stays_at_chance(family):
    rows = panel(days=1000, signal=0.0, seed=2)
    dates = rows["date"].unique()
    fit, val = (
        rows[rows["date"] < dates[500]],
        rows[(rows["date"] >= dates[505]) & (rows["date"] < dates[700])],
    )
    test = rows[rows["date"] >= dates[700]]
    model = family_class(family)(SMALL_PARAMS[family], seed=7).fit(
        fit, fit["y"].to_numpy(), FEATURES, val, val["y"].to_numpy()
    )
    y = test["y"].to_numpy()
    accuracy = np.mean(np.sign(model.predict(test)) == np.sign(y))
    base_rate = np.mean(y > 0)
    # Chance: within 3 standard errors (~0.03) of 0.5 and of the base rate.
    assert abs(accuracy - 0.5) < 0.03 and abs(accuracy - base_rate) < 0.04


def test_ensemble_weights_follow_validation_skill_and_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    y = rng.normal(size=2000)
    preds = {"good": y + rng.normal(size=2000), "noise": rng.normal(size=2000)}
    ens = Ensemble.from_validation(preds, y)
    assert ens.weights["good"] > 0.8 and sum(ens.weights.values()) == pytest.approx(1.0)
    assert information_coefficient(ens.combine(preds), y) > 0.5
    loaded = Ensemble.load(ens.save(tmp_path / "ens"))
    assert loaded.weights == ens.weights and loaded.residual_quantiles == ens.residual_quantiles
    # No family with positive skill: equal weights.
    none = Ensemble.from_validation({"a": -y, "b": rng.normal(size=2000) * 0 + 1.0}, y)
    assert none.weights == {"a": 0.5, "b": 0.5}
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ArtifactError):
        Ensemble.load(tmp_path / "bad.json")


@pytest.mark.parametrize("family,objective", [("lightgbm", "lambdarank"), ("xgboost", "rank:pairwise")])
def test_ranking_objectives_rank_each_date_and_map_to_forward_returns(
    family, objective, predictable, tmp_path
):
    fit, val, test = predictable
    params = SMALL_PARAMS[family] | {"objective": objective}
    model = family_class(family)(params, seed=7).fit(
        fit, fit["y"].to_numpy(), FEATURES, val, val["y"].to_numpy()
    )
    assert model.ranking
    model.map_output(fit["y"].to_numpy(), val, val["y"].to_numpy())
    assert model.output_map["kind"] == "cross_sectional" and model.output_map["slope"] > 0
    assert model.output_map["drift"] == pytest.approx(fit["y"].mean())
    model.calibrate_intervals(test, test["y"].to_numpy())
    pred, lower, upper = model.predict_interval(test)
    y = test["y"].to_numpy()
    # A score becomes a return forecast: same per-date ordering, the scale of returns (0.01 here).
    frame = test.assign(prediction=pred, actual=y)
    assert rank_ic_stats(frame, horizon=1)["rank_ic"] > 0.5
    assert 0.002 < np.std(pred) < 0.02 and np.all(lower <= pred) and np.all(pred <= upper)
    loaded = load_model(model.save(tmp_path / "ranker"))
    assert loaded.output_map == model.output_map
    assert np.array_equal(loaded.predict_interval(test)[0], pred)


def test_ranking_objectives_need_rows_sorted_by_date(predictable):
    fit, val, _ = predictable
    model = family_class("lightgbm")(SMALL_PARAMS["lightgbm"] | {"objective": "lambdarank"})
    shuffled = fit.sample(frac=1.0, random_state=0)
    with pytest.raises(ValueError, match="sorted by date"):
        model.fit(shuffled, shuffled["y"].to_numpy(), FEATURES, val, val["y"].to_numpy())
    with pytest.raises(ValueError, match="unknown lightgbm objective"):
        family_class("lightgbm")({"objective": "huber"}).fit(
            fit, fit["y"].to_numpy(), FEATURES, val, val["y"].to_numpy()
        )
