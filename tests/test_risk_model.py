"""The risk model on planted (labelled synthetic) data: GARCH volatility clustering with no predictable
mean, where the ML risk forecast must beat RiskMetrics' EWMA by QLIKE (Diebold-Mariano p < 0.05) while a
return model finds no significant alpha; a random walk, where neither the DM test nor the return model
finds what is not there; and the point-in-time and purge guarantees of the walk-forward."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from portfolio_dagster.quant import risk, risk_evaluation, risk_metrics, risk_models, risk_walk_forward
from portfolio_dagster.quant.models import family_class
from portfolio_dagster.quant.significance import rank_ic_stats
from portfolio_dagster.quant.walk_forward import retrain_dates

NAMES = 12


def _garch_returns(days: int, seed: int, alpha=0.08, beta=0.90, daily_vol=0.015) -> pd.DataFrame:
    """Labelled synthetic: independent GARCH(1,1) names, zero mean, long-run daily volatility 1.5%."""
    rng = np.random.default_rng(seed)
    omega = daily_vol**2 * (1 - alpha - beta)
    var = np.full(NAMES, daily_vol**2)
    r = np.empty((days, NAMES))
    for t in range(days):
        r[t] = np.sqrt(var) * rng.standard_normal(NAMES)
        var = omega + alpha * r[t] ** 2 + beta * var
    return pd.DataFrame(
        r, index=pd.bdate_range("2001-01-01", periods=days), columns=[f"G{i}" for i in range(NAMES)]
    )


def _random_walk(days: int, seed: int) -> pd.DataFrame:
    """Labelled synthetic: iid normal daily returns (constant volatility 1.5%), no predictable mean."""
    rng = np.random.default_rng(seed)
    r = 0.015 * rng.standard_normal((days, NAMES))
    return pd.DataFrame(
        r, index=pd.bdate_range("2001-01-01", periods=days), columns=[f"R{i}" for i in range(NAMES)]
    )


def _realized(returns: pd.DataFrame, h: int) -> pd.DataFrame:
    rv = risk.realized_volatility(risk.with_universe(returns), h).stack(future_stack=True)
    rv.index.names = ["date", "ticker"]
    return rv.rename("realized_volatility").reset_index()


def _walk_forward(returns: pd.DataFrame, h: int, families=(risk.LOG_LINEAR,)):
    rows = risk.risk_rows(returns, [h])
    schedule = retrain_dates(returns.index, returns.index[0], "yearly")
    spec = risk_walk_forward.RiskSpec(horizon=h, families=families, min_train_days=400, calibration_days=126)
    return risk_walk_forward.walk_forward_risk(rows, schedule, spec)


@pytest.mark.parametrize("h", [5, 21])
def test_garch_ml_risk_beats_ewma_by_qlike(h):
    returns = _garch_returns(2600, seed=11)
    forecasts, selection = _walk_forward(returns, h)
    realized = _realized(returns, h)
    for model in (risk.LOG_LINEAR, risk.CHOSEN):
        skill = risk_metrics.risk_skill(forecasts, realized, h, model)
        assert skill["risk_qlike"] < skill["risk_qlike_ewma"], (model, skill)
        assert skill["risk_dm_pvalue"] < 0.05, (model, skill)
    # Chosen on each inner window (126 sessions, noisy): mostly not EWMA, whose square-root-of-time rule
    # ignores GARCH's mean reversion.
    assert selection[selection["chosen"]]["model"].ne(risk.EWMA).mean() > 0.5
    # Every forecast is a positive, finite h-session volatility of a name or of the universe.
    assert np.isfinite(forecasts["volatility"]).all() and (forecasts["volatility"] > 0).all()
    assert set(forecasts["model"]) == {risk.EWMA, risk.HAR, risk.LOG_LINEAR, risk.CHOSEN}
    assert risk.UNIVERSE in set(forecasts["ticker"])


def test_garch_lightgbm_family_beats_ewma():
    returns = _garch_returns(2200, seed=5)
    forecasts, _ = _walk_forward(returns, 21, families=(risk.LIGHTGBM,))
    skill = risk_metrics.risk_skill(forecasts, _realized(returns, 21), 21, risk.LIGHTGBM)
    assert skill["risk_qlike"] < skill["risk_qlike_ewma"] and skill["risk_dm_pvalue"] < 0.05, skill


def test_lightgbm_rescale_from_its_training_scores_equals_the_rescale_from_predicting_the_fit_rows():
    """The LightGBM family rescales by mean(y / forecast) over its fit rows from the booster's own
    training scores (not a second prediction of those rows): the same level to the last ulp or two."""
    returns = _garch_returns(1500, seed=3)
    rows = risk.risk_rows(returns, [5]).dropna(subset=["target_var_5"])
    model = risk_models.risk_model_class(risk.LIGHTGBM)(5).fit(rows, rows["target_var_5"].to_numpy())
    x = rows[model.inputs_].to_numpy(dtype=float)
    y = np.maximum(rows["target_var_5"].to_numpy(dtype=float), risk_models._VAR_FLOOR)
    predicted = float(np.mean(y / (model._ewma(rows) * np.exp(model.predict_log(x)))))
    assert len(rows) > 10_000
    assert model.scale_ == pytest.approx(predicted, rel=1e-14, abs=0)
    assert model.scale_ != pytest.approx(1.0, rel=1e-6)  # a rescale that does something


@pytest.mark.parametrize("rolling", [None, 300])
def test_a_sets_rows_sliced_by_date_equal_the_rows_masked_from_the_whole_table(rolling):
    """train_risk_set takes its fit and calibration rows as positional slices of the date-sorted rows
    (known targets only): the same rows, in the same order, as masking the whole table."""
    from portfolio_dagster.quant import walk_forward

    rows = risk.risk_rows(_garch_returns(900, seed=4), [5])
    rows.loc[rows.sample(frac=0.1, random_state=1).index, "target_var_5"] = np.nan
    calendar = pd.DatetimeIndex(rows["date"].unique())
    known = rows[np.isfinite(rows["target_var_5"].to_numpy())]
    for asof in (calendar[10], calendar[400], calendar[-1] + pd.Timedelta(days=1)):
        s = walk_forward.split(calendar, asof, 5, 5, 126, rolling)
        expected = walk_forward.fit_and_validation(known, s)
        got = risk_walk_forward._fit_and_calibration(rows, s, "target_var_5")
        for mine, theirs in zip(got, expected, strict=True):
            pd.testing.assert_frame_equal(mine, theirs)
        shuffled = risk_walk_forward._fit_and_calibration(
            rows.sample(frac=1.0, random_state=2), s, "target_var_5"
        )
        for mine, theirs in zip(shuffled, expected, strict=True):  # unsorted rows: masked, any order
            pd.testing.assert_frame_equal(mine.sort_index(), theirs)
    assert len(got[0]) > 1000 and len(got[1]) > 100


def test_ml_risk_fitted_by_qlike_is_not_pulled_down_by_flat_closes():
    """One-session targets are r^2: a flat close (r = 0, a stale price) is a target of ~0 whose log is
    unbounded. The ML families learn the EWMA multiplier by the gamma deviance (QLIKE), so 5% flat days
    leave them within 0.02 of EWMA's QLIKE at one session, where GARCH leaves little to learn beyond it
    (the log-variance least-squares fits of before scored 2.9 and 2.4 worse than EWMA at one session on
    the bundled sample: -4.28 and -4.80 vs -7.20)."""
    returns = _garch_returns(2200, seed=8)
    flat = np.random.default_rng(2).random(returns.shape) < 0.05
    returns = returns.mask(flat, 0.0)
    forecasts, _ = _walk_forward(returns, 1, families=(risk.LOG_LINEAR, risk.LIGHTGBM))
    realized = _realized(returns, 1)
    for model in (risk.LOG_LINEAR, risk.LIGHTGBM):
        skill = risk_metrics.risk_skill(forecasts, realized, 1, model)
        assert skill["risk_qlike"] < skill["risk_qlike_ewma"] + 0.02, (model, skill)


def test_choice_is_the_lowest_mean_calibration_qlike_over_every_set_so_far():
    """One noisy window does not flip the choice: the mean over this and the earlier sets' inner
    windows decides; a model scored on fewer windows is averaged over those; ties go to the first name."""
    earlier = [{"ewma": -4.00, "log_linear": -4.10}, {"ewma": -4.02, "log_linear": -4.09}]
    today = {"ewma": -4.05, "log_linear": -4.03, "lightgbm": -4.20}
    assert risk_walk_forward.choose([today]) == "lightgbm"
    assert risk_walk_forward.choose([*earlier, {"ewma": -4.05, "log_linear": -4.03}]) == "log_linear"
    assert risk_walk_forward.choose([*earlier, today]) == "lightgbm"  # -4.20 on its one window
    assert risk_walk_forward.choose([{"a": -1.0, "b": -1.0}]) == "a"
    assert risk_walk_forward.choose([{"a": float("nan"), "b": -1.0}]) == "b"


def _return_model_ic(returns: pd.DataFrame, h: int) -> dict:
    """A return model (bayesian ridge) on the risk inputs and the last month's return, trained on the
    first half, scored by rank IC (Newey-West t) on the second half."""
    inputs = risk.risk_inputs(returns)
    inputs = inputs[inputs["ticker"] != risk.UNIVERSE]
    log_close = np.log1p(returns).cumsum()
    past = (log_close - log_close.shift(21)).stack(future_stack=True).rename("ret_21d")
    future = (log_close.shift(-h) - log_close).stack(future_stack=True).rename("y")
    extra = pd.concat([past, future], axis=1)
    extra.index.names = ["date", "ticker"]
    rows = inputs.merge(extra.reset_index(), on=["date", "ticker"]).dropna(
        subset=["log_rv_126", "ret_21d", "y"]
    )
    dates = np.sort(rows["date"].unique())
    cut = dates[len(dates) // 2]
    fit, test = rows[rows["date"] < cut - pd.Timedelta(days=2 * h)], rows[rows["date"] >= cut]
    names = ["ret_21d", "log_rv_5", "log_rv_22", "log_rv_63", "log_ewma_var"]
    model = family_class("bayesian_ridge")({}, seed=7).fit(
        fit, fit["y"].to_numpy(), names, fit, fit["y"].to_numpy()
    )
    frame = pd.DataFrame({"date": test["date"], "prediction": model.predict(test), "actual": test["y"]})
    return rank_ic_stats(frame, h)


@pytest.mark.parametrize("make", [_garch_returns, _random_walk])
def test_no_predictable_mean_gives_no_significant_alpha(make):
    stats = _return_model_ic(make(2600, seed=11), 21)
    assert abs(stats["ic_tstat"]) < norm.ppf(0.975), stats


def test_random_walk_dm_test_keeps_its_size():
    """Two forecasts equally good by construction (the true variance times independent, identically
    distributed noise): the DM test rejects at about its nominal 5%, not at the naive panel rate."""
    rng = np.random.default_rng(3)
    h, days = 5, 600
    rejections = 0
    trials = 200
    for _ in range(trials):
        returns = _random_walk(days, int(rng.integers(1 << 30)))
        y = risk.realized_volatility(returns, h).to_numpy() ** 2
        truth = h * 0.015**2
        fa = truth * np.exp(0.3 * rng.standard_normal(y.shape))
        fb = truth * np.exp(0.3 * rng.standard_normal(y.shape))
        keep = np.isfinite(y)
        dates = np.broadcast_to(np.arange(days)[:, None], y.shape)[keep]
        dm = risk_evaluation.diebold_mariano(
            risk_evaluation.qlike(y[keep], fa[keep]), risk_evaluation.qlike(y[keep], fb[keep]), dates, h
        )
        rejections += dm.pvalue < 0.05
    assert rejections / trials <= 0.10, rejections


def test_diebold_mariano_known_case():
    """One row per date, lag 0 where the rule asks for none: the DM statistic is the plain t of the mean
    difference with the population variance; identical forecasts give p = 1."""
    rng = np.random.default_rng(0)
    d = rng.normal(0.1, 1.0, 50)
    dm = risk_evaluation.diebold_mariano(d, np.zeros(50), np.arange(50), horizon=1)
    lags = int(4 * (50 / 100) ** (2 / 9))
    x = d - d.mean()
    lrv = np.mean(x * x) + 2 * sum(
        (1 - k / (lags + 1)) * np.sum(x[k:] * x[:-k]) / 50 for k in range(1, lags + 1)
    )
    assert dm.statistic == pytest.approx(d.mean() / math.sqrt(lrv / 50), rel=1e-9)
    assert dm.pvalue == pytest.approx(2 * norm.sf(abs(dm.statistic)))
    same = risk_evaluation.diebold_mariano(d, d, np.arange(50))
    assert same.pvalue == 1.0


def test_qlike_is_minimized_at_the_true_variance():
    y = np.random.default_rng(1).chisquare(3, 20000) / 3  # E[y] = 1
    losses = {f: risk_evaluation.qlike(y, np.full_like(y, f)).mean() for f in (0.5, 0.8, 1.0, 1.25, 2.0)}
    assert min(losses, key=losses.get) == 1.0


def test_targets_and_inputs_are_point_in_time():
    returns = _garch_returns(400, seed=2)
    rv = risk.realized_volatility(returns, 5)
    d = 100
    assert rv.iloc[d, 0] == pytest.approx(math.sqrt((returns.iloc[d + 1 : d + 6, 0] ** 2).sum()))
    assert np.isnan(rv.iloc[-5:]).all().all() and np.isfinite(rv.iloc[-6]).all()
    changed = returns.copy()
    changed.iloc[300:] *= 3.0
    a, b = risk.risk_inputs(returns), risk.risk_inputs(changed)
    before = a["date"] < returns.index[300]
    pd.testing.assert_frame_equal(a[before], b[before.to_numpy()])


def test_models_trained_only_on_targets_realized_before_use():
    """A shock to the returns at and after a retrain date leaves the models of that date unchanged:
    their fit and calibration rows' targets end before it (purge and embargo)."""
    returns = _garch_returns(1400, seed=4)
    asof = returns.index[1000]
    spec = risk_walk_forward.RiskSpec(horizon=21, families=(risk.LOG_LINEAR,), min_train_days=400)
    shocked = returns.copy()
    # The last eligible row is dated 1000 - 21 - embargo - 1; its target ends at session 1000 - embargo - 1.
    shocked.iloc[1000 - spec.embargo_days :] *= 4.0
    sets = []
    for r in (returns, shocked):
        rows = risk.risk_rows(r, [21])
        sets.append(
            risk_walk_forward.train_risk_set(rows, pd.DatetimeIndex(rows["date"].unique()), asof, spec)
        )
    assert sets[0].calibration_qlike == sets[1].calibration_qlike
    assert sets[0].chosen == sets[1].chosen
    # ...and a shock one session earlier reaches a training target.
    shocked.iloc[1000 - spec.embargo_days - 1] *= 4.0
    rows = risk.risk_rows(shocked, [21])
    moved = risk_walk_forward.train_risk_set(rows, pd.DatetimeIndex(rows["date"].unique()), asof, spec)
    assert moved.calibration_qlike != sets[0].calibration_qlike


def test_unknown_risk_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown risk model 'garch'"):
        risk_models.risk_model_class("garch")


def test_range_based_inputs_only_with_ohlc():
    returns = _garch_returns(300, seed=6)
    close = (1 + returns).cumprod() * 100
    ohlc = {"open": close.shift(1).bfill(), "high": close * 1.01, "low": close * 0.99, "close": close}
    with_range = risk.ml_input_names(risk.risk_rows(returns, [5], ohlc))
    without = risk.ml_input_names(risk.risk_rows(returns, [5]))
    assert {"log_parkinson", "log_garman_klass"} <= set(with_range)
    assert not {"log_parkinson", "log_garman_klass"} & set(without)


def test_summary_metrics_name_each_horizon_from_the_names_rows_paired_with_ewma():
    """backtest_summary's risk rows: the chosen forecast of the names (the universe row left out, as
    the paired query does) against EWMA's, named per horizon."""
    returns = _garch_returns(1600, seed=8)
    forecasts, _ = _walk_forward(returns, 21)
    names = forecasts[forecasts["ticker"] != risk.UNIVERSE]
    mine = names[names["model"] == risk.CHOSEN][["ticker", "date", "volatility"]]
    ewma = names[names["model"] == risk.EWMA][["ticker", "date", "volatility"]].rename(
        columns={"volatility": "ewma"}
    )
    paired = mine.merge(ewma, on=["ticker", "date"]).sort_values(["ticker", "date"], ignore_index=True)
    found = risk_metrics.summary_metrics(
        21, risk_metrics.paired_skill(paired, risk.realized_volatility(returns, 21), 21)
    )
    assert set(found) == {"risk_qlike_21d", "risk_qlike_ewma_21d", "risk_dm_pvalue_21d"}
    names_only = risk_metrics.risk_skill(names, _realized(returns, 21), 21)
    assert found["risk_qlike_21d"] == names_only["risk_qlike"] and np.isfinite(found["risk_qlike_21d"])
    assert found["risk_dm_pvalue_21d"] == names_only["risk_dm_pvalue"]
    assert np.isnan(
        risk_metrics.summary_metrics(
            5, risk_metrics.paired_skill(paired.iloc[0:0], risk.realized_volatility(returns, 5), 5)
        )["risk_qlike_5d"]
    )


def test_history_fingerprints_change_with_the_past_of_their_date_only():
    from portfolio_dagster.quant.risk_state import history_fingerprints

    days = pd.bdate_range("2020-01-01", periods=30)
    frame = pd.DataFrame(np.arange(60.0).reshape(30, 2), index=days, columns=["A", "B"])
    asofs = [days[9], days[19]]
    base = history_fingerprints({"close": frame}, asofs)
    later = frame.copy()
    later.iloc[15, 1] = -1.0  # after the first date, before the second
    moved = history_fingerprints({"close": later}, asofs)
    assert moved[days[9]] == base[days[9]] and moved[days[19]] != base[days[19]]
    earlier = frame.copy()
    earlier.iloc[9, 0] = -1.0  # on the first date
    assert all(history_fingerprints({"close": earlier}, asofs)[a] != base[a] for a in asofs)
    assert history_fingerprints({"close": frame.rename(columns={"B": "C"})}, asofs)[days[9]] != base[days[9]]


def test_a_session_rows_from_the_recent_history_equal_the_whole_history_rows_bit_for_bit():
    """risk_rows(since=d) reads only the windows' rows before d (the EWMA excepted): its values are the
    whole history's, exactly, with gaps, OHLC and a name that starts late."""
    returns = _garch_returns(900, seed=3)
    returns.iloc[:400, 0] = np.nan  # a late start
    returns.iloc[500:503, 1] = np.nan  # a gap
    close = (1 + returns.fillna(0)).cumprod() * 50
    rng = np.random.default_rng(4)
    ohlc = {
        "close": close,
        "open": close * rng.uniform(0.99, 1.01, close.shape),
        "high": close * 1.02,
        "low": close * 0.98,
    }
    whole = risk.risk_rows(returns, [1, 5, 21], ohlc)
    for since in (returns.index[130], returns.index[700], returns.index[-3]):
        part = risk.risk_rows(returns, [1, 5, 21], ohlc, since=since)
        expected = whole[whole["date"] >= since].reset_index(drop=True)
        assert len(part) > 0
        pd.testing.assert_frame_equal(part, expected, check_exact=True)


def test_trailing_sum_is_the_rolling_sum_and_does_not_depend_on_where_the_panel_begins():
    panel = _garch_returns(300, seed=5).pow(2)
    panel.iloc[40, 2] = np.nan
    for k in (1, 5, 63):
        got = risk.trailing_sum(panel, k)
        pd.testing.assert_frame_equal(got, panel.rolling(k, min_periods=k).sum(), rtol=1e-12)
        tail = risk.trailing_sum(panel.iloc[100:], k)
        pd.testing.assert_frame_equal(tail.iloc[k - 1 :], got.iloc[100 + k - 1 :], check_exact=True)


def test_paired_skill_is_risk_skill_on_rows_paired_with_ewma():
    """model_metrics' pass pairs each row with EWMA's in SQL and places it in the realized panel by index:
    the same skill, to the bit, as risk_skill's pivot and join (a missing EWMA row, a NaN forecast and
    targets not yet realized included)."""
    returns = _garch_returns(1200, seed=6)
    forecasts, _ = _walk_forward(returns, 5)
    forecasts = forecasts.drop(index=forecasts.index[(forecasts["model"] == risk.EWMA)][:40])
    forecasts.loc[forecasts.index[7], "volatility"] = np.nan
    names = forecasts[forecasts["ticker"] != risk.UNIVERSE]
    panel = risk.realized_volatility(returns, 5)
    for model in (risk.LOG_LINEAR, risk.CHOSEN, risk.EWMA):
        mine = names[names["model"] == model][["ticker", "date", "volatility"]]
        ewma = names[names["model"] == risk.EWMA][["ticker", "date", "volatility"]]
        paired = mine.merge(ewma.rename(columns={"volatility": "ewma"}), on=["ticker", "date"])
        paired = paired.sort_values(["ticker", "date"], ignore_index=True)
        expected = risk_metrics.risk_skill(names, _realized(returns, 5), 5, model)
        assert risk_metrics.paired_skill(paired, panel, 5) == expected
        assert expected["risk_rows"] > 0
