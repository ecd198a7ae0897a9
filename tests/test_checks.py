"""Every asset check run by Dagster over a real DuckDB warehouse holding a violating table: it fails, with
its reason in the metadata; the same table without the violation passes (so the test can fail both ways)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.features import features
from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.models import MODEL_LINEAGE_SECTIONS, models
from portfolio_dagster.assets.paper import paper_ledger
from portfolio_dagster.assets.prices import prices
from portfolio_dagster.checks.all import CHECKS
from portfolio_dagster.checks.integrity import allocations_valid, prices_unique_and_positive
from portfolio_dagster.checks.market_data import (
    prices_no_missing_days,
    prices_no_suspicious_jumps,
    prices_sources_agree,
)
from portfolio_dagster.checks.operations import (
    LIVE_SESSIONS,
    STALE_AFTER_SESSIONS,
    features_finite,
    forecast_coverage,
    prices_fresh,
    purge_guard,
)
from portfolio_dagster.checks.paper import paper_ledger_reconciles
from portfolio_dagster.checks.scope import WindowCheck
from portfolio_dagster.config import load_config
from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.features import DEFAULT_MODEL_FEATURES, FEATURE_NAMES, LOOKBACK, required_fields
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import sample_prices
from portfolio_dagster.resources.warehouse import Warehouse

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
DAYS = sessions(dt.date(2020, 1, 2), dt.date(2020, 7, 1))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(resources, warehouse, config) in a temporary folder; alerts (blocking failures) stay inside it."""
    monkeypatch.setenv("PMX_HOME", str(tmp_path / "home"))
    cfg = load_config().model_dump(mode="json")
    cfg["data"]["tickers"] = ["AAA", "BBB"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    settings = PipelineSettings(config_path=str(path))
    return {"settings": settings, "warehouse": warehouse}, warehouse, settings.config


def run_check(
    check, asset, resources, partition: str | None = None, last: str | None = None
) -> dg.AssetCheckEvaluation:
    """Only the check, by Dagster (the asset is not rematerialized): its evaluation. A window check over
    the partitions `partition`..`last` (default: just `partition`; neither: every partition)."""
    stub = dg.AssetSpec(asset.key, partitions_def=asset.partitions_def)  # the real key; no upstream needed
    tags = None
    if isinstance(check, WindowCheck):
        check = check.on()
        keys = check.partitions_def.get_partition_keys()
        first = partition or keys[0]
        # A partition range (a check-only run cannot take a partition_key: it selects no asset).
        tags = {
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last or (partition or keys[-1]),
        }
    result = dg.materialize(
        [stub, check],
        selection=dg.AssetSelection.checks(check),
        resources=resources,
        tags=tags,
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def meta(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {k: v.value for k, v in evaluation.metadata.items()}


def price_rows(ticker: str, days, close=100.0, **extra) -> pd.DataFrame:
    return pd.DataFrame(
        {"ticker": ticker, "date": pd.DatetimeIndex(days).date, "close": close, "source": "csv", **extra}
    )


def test_prices_unique_and_positive(env):
    resources, wh, _ = env
    wh.append("prices", price_rows("AAA", DAYS[:5]))
    assert run_check(prices_unique_and_positive, prices, resources).passed
    wh.append("prices", pd.concat([price_rows("BBB", DAYS[:1], -1.0), price_rows("BBB", DAYS[1:2], np.inf)]))
    failed = run_check(prices_unique_and_positive, prices, resources)
    assert not failed.passed and failed.severity == ERROR
    assert meta(failed) == {"duplicate_keys": 0, "bad_closes": 2}
    # Duplicate keys cannot reach the table: its primary key refuses them (the check is a second guard).
    with pytest.raises(duckdb.ConstraintException):
        wh.append("prices", price_rows("AAA", DAYS[:1]))


def test_allocations_valid(env):
    resources, wh, cfg = env
    cap = cfg.strategy.max_position
    good = pd.DataFrame(
        {
            "date": [DAYS[0].date()] * 3,
            "ticker": ["AAA", "BBB", "CASH"],
            "weight": [cap, cap, 1 - 2 * cap],
            "sleeve": ["risky", "risky", "safe"],
        }
    )
    wh.append("allocations", good)
    assert run_check(allocations_valid, allocations, resources).passed
    short = good.assign(date=DAYS[1].date(), weight=[cap, cap, 0.5])  # sums to < 1
    over = good.assign(
        date=DAYS[2].date(), weight=[cap + 0.01, cap - 0.01, 1 - 2 * cap]
    )  # a risky weight over cap
    negative = good.assign(date=DAYS[3].date(), weight=[-0.05, cap + 0.05, 1.0 - 2 * cap])
    wh.append("allocations", pd.concat([short, over, negative]))
    failed = run_check(allocations_valid, allocations, resources)
    assert not failed.passed and failed.severity == ERROR
    assert meta(failed) == {"dates_violating": 2, "risky_weights_over_cap": 2, "cap": cap}


def test_prices_no_missing_days(env):
    resources, wh, _ = env
    wh.append("prices", pd.concat([price_rows("AAA", DAYS[:10]), price_rows("BBB", DAYS[:10])]))
    assert run_check(prices_no_missing_days, prices, resources).passed
    wh.query("SELECT 1")  # a read between writes, as the pipeline does
    with wh.connect() as con:
        con.execute(
            "DELETE FROM prices WHERE ticker = 'BBB' AND date IN (?, ?)", [DAYS[3].date(), DAYS[4].date()]
        )
    failed = run_check(prices_no_missing_days, prices, resources)
    assert not failed.passed and failed.severity == ERROR
    assert meta(failed)["missing"] == 2 and meta(failed)["tickers_affected"] == 1


def test_prices_sources_agree(env):
    resources, wh, cfg = env
    tol = cfg.data.disagreement_tolerance
    # disagreement: (max - min) / chosen close of the sources' closes, >= 0.
    wh.append("prices", price_rows("AAA", DAYS[:3], n_sources=2, disagreement=[0.0, tol / 2, tol]))
    assert run_check(prices_sources_agree, prices, resources).passed
    wh.append("prices", price_rows("BBB", DAYS[:2], n_sources=2, disagreement=[tol * 1.01, tol * 3]))
    failed = run_check(prices_sources_agree, prices, resources)
    assert not failed.passed and failed.severity == WARN
    assert meta(failed)["compared"] == 5 and meta(failed)["disagreeing"] == 2


def test_prices_no_suspicious_jumps(env):
    resources, wh, cfg = env
    calm = 100 * np.cumprod(np.full(20, 1.01))
    wh.append("prices", price_rows("AAA", DAYS[:20], calm))
    assert run_check(prices_no_suspicious_jumps, prices, resources).passed
    spike = calm.copy()
    spike[10] *= 1 + 2 * cfg.data.jump_threshold  # a bad print: up, then back down the next day
    wh.append("prices", price_rows("BBB", DAYS[:20], spike))
    failed = run_check(prices_no_suspicious_jumps, prices, resources)
    assert not failed.passed and failed.severity == WARN and meta(failed)["flagged"] >= 1
    assert "BBB" in meta(failed)["examples"] and "AAA" not in meta(failed)["examples"]


def key(day) -> str:
    return pd.Timestamp(day).strftime("%Y-%m-%d")


def test_price_checks_read_only_their_window_with_the_history_their_rule_needs(env):
    """A day's run judges that day: a hole or a bad print outside it is another run's; a series that spans
    the day without a row on it is missing there; a move reversed on the day counts on the day."""
    resources, wh, cfg = env
    calm = 100 * np.cumprod(np.full(20, 1.01))
    spike = calm.copy()
    spike[10] *= 1 + 2 * cfg.data.jump_threshold  # up on DAYS[10], reversed on DAYS[11]
    wh.append("prices", pd.concat([price_rows("AAA", DAYS[:20], calm), price_rows("BBB", DAYS[:20], spike)]))
    with wh.connect() as con:
        con.execute("DELETE FROM prices WHERE ticker = 'AAA' AND date = ?", [DAYS[5].date()])
    assert not run_check(prices_no_missing_days, prices, resources).passed  # every partition
    assert run_check(prices_no_missing_days, prices, resources, key(DAYS[6]), key(DAYS[19])).passed
    hole = run_check(prices_no_missing_days, prices, resources, key(DAYS[5]))
    assert not hole.passed and meta(hole)["missing"] == 1
    assert not run_check(prices_no_suspicious_jumps, prices, resources).passed
    for day in (DAYS[10], DAYS[12]):  # the jump's own day (not reversed yet) and the day after the reversal
        assert run_check(prices_no_suspicious_jumps, prices, resources, key(day)).passed
    reversed_today = run_check(prices_no_suspicious_jumps, prices, resources, key(DAYS[11]))
    assert not reversed_today.passed and meta(reversed_today)["flagged"] == 1


def _feature_rows(ticker: str, n: int) -> pd.DataFrame:
    frame = pd.DataFrame(0.5, index=range(n), columns=list(FEATURE_NAMES))
    return frame.assign(ticker=ticker, date=sessions(dt.date(2015, 1, 2), dt.date(2017, 1, 1))[:n].date)


def test_features_finite_blocks_on_inf_and_warns_on_nan_after_warmup(env):
    resources, wh, _ = env
    n = LOOKBACK + 5
    rows = _feature_rows("AAA", n)
    rows.loc[: LOOKBACK - 1, FEATURE_NAMES[0]] = np.nan  # NaN inside the warm-up is expected
    wh.append("features", rows)
    assert run_check(features_finite, features, resources).passed
    late_nan = _feature_rows("BBB", n)
    late_nan.loc[n - 1, FEATURE_NAMES[1]] = np.nan
    wh.append("features", late_nan)
    warned = run_check(features_finite, features, resources)
    assert not warned.passed and warned.severity == WARN
    assert meta(warned)["nan_rows_after_warmup"] == 1 and meta(warned)["nan_rows_by_ticker"] == {"BBB": 1}
    with wh.connect() as con:
        con.execute(
            f"UPDATE features SET {FEATURE_NAMES[2]} = 'inf'::FLOAT WHERE ticker = 'AAA' AND date = ?",
            [rows["date"].iat[0]],
        )
    blocked = run_check(features_finite, features, resources)
    assert not blocked.passed and blocked.severity == ERROR and meta(blocked)["inf_rows"] == 1


def test_features_finite_over_a_window_ranks_the_warm_up_by_the_rows_before_it(env):
    resources, wh, _ = env
    n = LOOKBACK + 20
    rows = _feature_rows("AAA", n)
    rows.loc[LOOKBACK - 3, FEATURE_NAMES[1]] = np.nan  # inside the warm-up: expected
    rows.loc[LOOKBACK + 10, FEATURE_NAMES[1]] = np.nan  # after it: a hole
    wh.append("features", rows)
    dates = pd.to_datetime(rows["date"])
    assert not run_check(features_finite, features, resources).passed
    warm = run_check(features_finite, features, resources, key(dates[LOOKBACK - 10]), key(dates[LOOKBACK]))
    assert warm.passed  # the rows before the window count toward the warm-up
    assert run_check(
        features_finite, features, resources, key(dates[LOOKBACK + 11]), key(dates[n - 1])
    ).passed
    hole = run_check(features_finite, features, resources, key(dates[LOOKBACK + 10]))
    assert not hole.passed and meta(hole)["nan_rows_by_ticker"] == {"AAA": 1}


def _with_config(env, tmp_path: Path, **features_section) -> dict:
    resources, _, cfg = env
    data = cfg.model_dump(mode="json")
    data["features"].update(features_section)
    path = tmp_path / f"config_features_{len(list(tmp_path.glob('config_features_*')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return resources | {"settings": PipelineSettings(config_path=str(path))}


def test_features_finite_counts_only_inputs_the_prices_can_define(env, tmp_path):
    _, wh, _ = env
    resources = _with_config(env, tmp_path, selected=None)  # every feature is a model input
    n = LOOKBACK + 5
    volume_feature = next(name for name in FEATURE_NAMES if required_fields(name) == {"volume"})
    rows = _feature_rows("AAA", n)
    rows[volume_feature] = np.nan  # AAA's prices are close-only: undefined by design
    wh.append("features", rows)
    wh.append("prices", price_rows("AAA", rows["date"]))
    ok = run_check(features_finite, features, resources)
    assert ok.passed and meta(ok)["tickers_without_field"]["volume"] == ["AAA"]
    # The same NaN for a ticker whose prices have volume is a hole in the data: it warns.
    with_volume = _feature_rows("BBB", n)
    with_volume.loc[n - 1, volume_feature] = np.nan
    wh.append("features", with_volume)
    moving = 100.0 + np.arange(n)  # closes that move every session (an unchanged one is NaN by design)
    wh.append("prices", price_rows("BBB", with_volume["date"], close=moving, volume=1e6))
    warned = run_check(features_finite, features, resources)
    assert not warned.passed and warned.severity == WARN and meta(warned)["nan_rows_by_ticker"] == {"BBB": 1}
    # A feature that is not a model input (features.selected) is not counted.
    default_inputs = _with_config(env, tmp_path, selected=list(DEFAULT_MODEL_FEATURES))
    assert volume_feature not in DEFAULT_MODEL_FEATURES
    assert run_check(features_finite, features, default_inputs).passed


def test_features_finite_does_not_count_nan_where_an_unchanged_close_is_in_the_window(env):
    """A flat stretch of closes (a stale price: the sample's RRC in 1991-92) makes ratios of moves 0/0
    (here the Bollinger position: a zero standard deviation): those NaN are the data's, reported apart;
    the same NaN where the closes moved still warns."""
    resources, wh, _ = env
    n, name = LOOKBACK + 50, "bollinger_position"
    assert name in DEFAULT_MODEL_FEATURES
    close = 100.0 + np.arange(n)
    close[LOOKBACK + 5 : LOOKBACK + 45] = close[LOOKBACK + 4]  # 40 sessions at the same close
    flat = _feature_rows("FLAT", n)
    flat.loc[LOOKBACK + 30 : LOOKBACK + 40, name] = np.nan  # a whole 20-session window flat
    wh.append("features", flat)
    wh.append("prices", price_rows("FLAT", flat["date"], close=close))
    ok = run_check(features_finite, features, resources)
    assert ok.passed and meta(ok)["nan_rows_after_warmup"] == 0 and meta(ok)["nan_rows_unchanged_close"] == 11
    # Early in the stretch (5 unchanged closes of the window) a NaN is not the flat price's: it warns.
    with wh.connect() as con:
        con.execute(
            f"UPDATE features SET {name} = NULL WHERE ticker = 'FLAT' AND date = ?",
            [flat["date"].iat[LOOKBACK + 10]],
        )
    warned = run_check(features_finite, features, resources)
    assert not warned.passed and warned.severity == WARN and meta(warned)["nan_rows_by_ticker"] == {"FLAT": 1}


def test_features_finite_passes_on_the_bundled_sample_and_warns_on_a_planted_hole(env):
    resources, wh, cfg = env
    px = sample_prices(cfg.data.benchmark)
    px = px[
        px["ticker"].isin(["AAPL", "KO", "XOM", cfg.data.benchmark]) & (px["date"] >= dt.date(2015, 1, 1))
    ]
    index = px[px["ticker"] == cfg.data.benchmark]
    stocks = px[px["ticker"] != cfg.data.benchmark]
    feats = feature_set.compute(
        stocks, pd.Series(index["close"].to_numpy(), index=pd.to_datetime(index["date"]))
    )
    wh.append("features", feats.assign(date=feats["date"].dt.date))
    wh.append("prices", stocks.assign(source="sample"))
    nan_anywhere = feats.groupby("ticker").apply(
        lambda f: f.iloc[LOOKBACK:][list(FEATURE_NAMES)].isna().sum().sum()
    )
    assert (nan_anywhere > 0).all()  # close-only: the volume and candle features are NaN throughout
    ok = run_check(features_finite, features, resources)
    assert ok.passed and meta(ok)["nan_rows_after_warmup"] == 0
    assert meta(ok)["tickers_without_field"] == {
        f: ["AAPL", "KO", "XOM"] for f in ("open", "high", "low", "volume")
    }
    with wh.connect() as con:  # the working copy the checks read
        con.execute(
            f"UPDATE features SET {DEFAULT_MODEL_FEATURES[0]} = NULL WHERE ticker = 'KO' AND date = ?",
            [feats["date"].max().date()],
        )
    planted = run_check(features_finite, features, resources)
    assert not planted.passed and meta(planted)["nan_rows_by_ticker"] == {"KO": 1}


def test_forecast_coverage(env):
    resources, wh, _ = env
    feats = pd.concat([_feature_rows("AAA", 3), _feature_rows("BBB", 3)])
    wh.append("features", feats)

    def ensemble(ticker, dates):
        return pd.DataFrame(
            {
                "ticker": ticker,
                "date": dates,
                "horizon": 5,
                "model": "ensemble",
                "prediction": 0.01,
                "model_id": "set-x",
            }
        )

    dates = list(feats["date"].unique())
    wh.append("forecasts", pd.concat([ensemble("AAA", dates), ensemble("BBB", dates)]))
    assert run_check(forecast_coverage, forecasts, resources).passed
    with wh.connect() as con:
        con.execute("DELETE FROM forecasts WHERE ticker = 'BBB' AND date = ?", [dates[2]])
    failed = run_check(forecast_coverage, forecasts, resources)
    assert not failed.passed and failed.severity == ERROR
    assert meta(failed)["missing_forecasts"] == 1 and meta(failed)["missing_by_ticker"] == {"BBB": 1}


def _registry_row(
    cfg, model_id: str, horizon: int, train_end, valid_from, fit_end=None, validation_start=None
):
    return {
        "model_id": model_id,
        "model_type": "lightgbm",
        "horizon": horizon,
        "train_start": DAYS[0].date(),
        "train_end": train_end.date(),
        "valid_from": valid_from.date(),
        "trained_at": pd.Timestamp("2020-07-01"),
        "config_hash": cfg.fingerprint(*MODEL_LINEAGE_SECTIONS),
        "features": "[]",
        "metrics": "{}",
        "artifact": "x.json",
        "artifact_sha256": "0" * 64,
        "fit_end": fit_end.date() if fit_end is not None else None,
        "validation_start": validation_start.date() if validation_start is not None else None,
    }


def test_purge_guard_fails_when_the_horizon_plus_embargo_gap_is_short_by_one_day(env):
    resources, wh, cfg = env
    wh.append("prices", price_rows("AAA", DAYS))
    h, e = 5, cfg.models.embargo_days
    use = 100
    # Tight but purged: train_end's target (h sessions later) plus the embargo ends the day before use.
    ok = _registry_row(cfg, "ok", h, DAYS[use - h - e - 1], DAYS[use], DAYS[60 - h - e - 1], DAYS[60])
    wh.append("model_registry", pd.DataFrame([ok]))
    passed = run_check(purge_guard, models, resources)
    assert passed.passed and meta(passed)["models"] == 1
    late_end = _registry_row(cfg, "late_end", h, DAYS[use - h - e], DAYS[use])
    late_fit = _registry_row(cfg, "late_fit", h, DAYS[use - h - e - 1], DAYS[use], DAYS[60 - h - e], DAYS[60])
    other_config = _registry_row(cfg, "other", h, DAYS[use - 1], DAYS[use]) | {"config_hash": "not-this-one"}
    wh.append("model_registry", pd.DataFrame([late_end, late_fit, other_config]))
    failed = run_check(purge_guard, models, resources)
    assert not failed.passed and failed.severity == ERROR
    assert meta(failed)["models"] == 3 and sorted(meta(failed)["leaking_models"]) == ["late_end", "late_fit"]


def test_prices_fresh_is_relative_to_the_partition_not_the_table_or_the_clock(env):
    resources, wh, _ = env
    history = sessions(dt.date(2019, 1, 2), dt.date(2020, 3, 3))
    run_day = history[-1]  # 2020-03-02
    wh.append(
        "prices",
        pd.concat(
            [
                price_rows("AAA", history),
                price_rows("BBB", history),
                price_rows("OLD", history[: -LIVE_SESSIONS - 10]),
            ]
        ),
    )
    fresh = run_check(prices_fresh, prices, resources, run_day.strftime("%Y-%m-%d"))
    assert fresh.passed and meta(fresh)["ended_series"] == ["OLD"]  # ended long ago: not stale
    # An older partition of a table that reaches later is fresh too (no comparison with the table's end).
    assert run_check(prices_fresh, prices, resources, history[200].strftime("%Y-%m-%d")).passed
    # A run STALE_AFTER_SESSIONS + 1 sessions after the data's last day: every live ticker is stale, even
    # though each is as new as the table's newest close.
    later = sessions(run_day.date() + dt.timedelta(days=1), dt.date(2020, 4, 1))[STALE_AFTER_SESSIONS]
    stale = run_check(prices_fresh, prices, resources, later.strftime("%Y-%m-%d"))
    assert not stale.passed and stale.severity == WARN
    assert meta(stale)["stale_tickers"] == {"AAA": STALE_AFTER_SESSIONS + 1, "BBB": STALE_AFTER_SESSIONS + 1}
    assert "2 ticker(s) more than 5 sessions behind" in meta(stale)["reason"]
    one_day_less = sessions(run_day.date() + dt.timedelta(days=1), dt.date(2020, 4, 1))[
        STALE_AFTER_SESSIONS - 1
    ]
    assert run_check(prices_fresh, prices, resources, one_day_less.strftime("%Y-%m-%d")).passed
    # One ticker behind inside the partition's data.
    with wh.connect() as con:
        con.execute("DELETE FROM prices WHERE ticker = 'BBB' AND date > ?", [history[-8].date()])
    behind = run_check(prices_fresh, prices, resources, run_day.strftime("%Y-%m-%d"))
    assert not behind.passed and meta(behind)["stale_tickers"] == {"BBB": 7}
    assert json.dumps(meta(behind)["ended_series"]) == '["OLD"]'


def test_prices_fresh_over_a_range_and_on_a_holiday(env):
    resources, wh, _ = env
    history = sessions(dt.date(2019, 1, 2), dt.date(2019, 7, 3))
    wh.append("prices", price_rows("AAA", history))
    evaluation = run_check(prices_fresh, prices, resources, "2019-06-03", "2019-07-02")
    assert evaluation.passed and meta(evaluation)["last_session"] == "2019-07-02"
    holiday = run_check(prices_fresh, prices, resources, "2019-07-04")
    assert holiday.passed and "no trading session" in meta(holiday)["reason"]


def _account(day, cash, positions_value, nav):
    return {
        "date": day,
        "cash_usd": cash,
        "positions_value_usd": positions_value,
        "nav_usd": nav,
        "turnover": 0.0,
        "costs_usd": 0.0,
        "decision_id": "d",
        "controls": "",
        "run_id": "r",
        "booked_at": pd.Timestamp("2020-07-01"),
    }


def test_paper_ledger_reconciles(env):
    resources, wh, _ = env
    d1, d2, d3 = (d.date() for d in DAYS[:3])
    wh.append(
        "paper_positions",
        pd.DataFrame(
            {
                "date": [d1, d2],
                "ticker": "AAA",
                "quantity": 10.0,
                "price": 50.0,
                "market_value_usd": 500.0,
                "weight": 0.5,
            }
        ),
    )
    wh.append("paper_account", pd.DataFrame([_account(d1, 500.0, 500.0, 1000.0)]))
    passed = run_check(paper_ledger_reconciles, paper_ledger, resources)
    assert passed.passed and meta(passed)["sessions"] == 1
    # d2: nav is not cash + positions; d3: negative cash (no positions).
    wh.append(
        "paper_account", pd.DataFrame([_account(d2, 500.0, 500.0, 1100.0), _account(d3, -5.0, 0.0, -5.0)])
    )
    failed = run_check(paper_ledger_reconciles, paper_ledger, resources)
    assert not failed.passed and failed.severity == ERROR and meta(failed)["problems"] == 2
    assert meta(failed)["first_problems"] == [
        f"{d2}: nav 1100.00 != cash + positions 1000.00",
        f"{d3}: negative cash -5.00",
    ]


# Checks whose failing case is tested elsewhere (a run that needs more than a table).
FAILING_TESTS_ELSEWHERE = {
    "feature_drift": "tests/test_drift.py::test_drift_check_warns_with_the_worst_features_and_alerts_once"
}


def test_every_registered_check_has_a_failing_test():
    here = Path(__file__).read_text()
    names = [spec.name for check in CHECKS for spec in check.check_specs]
    assert len(names) == len(CHECKS) >= 11
    untested = [
        name for name in names if f"run_check({name}," not in here and name not in FAILING_TESTS_ELSEWHERE
    ]
    assert untested == []
    for reference in FAILING_TESTS_ELSEWHERE.values():
        path, name = reference.split("::")
        assert f"def {name}(" in (Path(__file__).parents[1] / path).read_text()
