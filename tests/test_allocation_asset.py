"""The signals and allocations assets through Dagster on a warehouse of synthetic data (labelled test
data: random-walk stocks, CASH/BOND indices, ensemble-shaped forecasts, regimes): a range materialized
in two runs equals one run (the second resumes from the stored allocations), the blocking check passes,
and the operations emergency flag takes effect."""

import dagster as dg
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.signals import signals
from portfolio_dagster.checks.integrity import allocations_valid
from portfolio_dagster.resources.operations_state import EMERGENCY, set_state
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from tests.strategy_data import HORIZON, forecasts_from, market

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


@pytest.fixture()
def setup(tmp_path):
    close, safe, regimes = market(n_days=420, n_assets=5)
    wh = Warehouse(path=str(tmp_path / "w.duckdb"))
    px = pd.concat([close, safe], axis=1).stack().rename("close").reset_index()
    px.columns = ["date", "ticker", "close"]
    wh.replace_where("prices", px.assign(source="test"))
    fc = forecasts_from(close, 0.5)
    wh.replace_where("forecasts", fc.assign(horizon=HORIZON, model="ensemble", model_id="test"))
    wh.replace_where("regimes", regimes)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "strategy": {
                    "mode": "ml",  # the emergency binds an ML product
                    "signal_horizon": HORIZON,
                    "covariance_days": 60,
                    "safe_assets": ["CASH", "BOND"],
                    "drawdown_days": 60,
                },
                "data": {"benchmark": "NONE"},
            }
        )
    )
    return wh, cfg, close.index


def _materialize(wh, cfg, start, end, with_check=False):
    assets = [signals, allocations]
    result = dg.materialize(
        [*assets, *([allocations_valid] if with_check else [])],
        resources={"warehouse": wh, "settings": PipelineSettings(config_path=str(cfg))},
        tags={RANGE[0]: start, RANGE[1]: end},
    )
    assert result.success
    return result


def _alloc(wh):
    return wh.query("SELECT * FROM allocations ORDER BY date, ticker")


def test_two_runs_equal_one_and_the_check_passes(setup):
    wh, cfg, days = setup
    first, mid, last = (d.strftime("%Y-%m-%d") for d in (days[300], days[360], days[-1]))
    result = _materialize(wh, cfg, first, last, with_check=True)
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    whole = _alloc(wh)
    assert len(whole) and whole["date"].nunique() == len(days[300:])
    wh.replace_range("allocations", pd.DataFrame(), days[300].date(), days[-1].date() + pd.Timedelta(days=1))
    _materialize(wh, cfg, first, (days[359]).strftime("%Y-%m-%d"))
    _materialize(wh, cfg, mid, last)
    pd.testing.assert_frame_equal(_alloc(wh), whole)


def test_operations_emergency_flag_moves_everything_to_the_safe_sleeve(setup):
    wh, cfg, days = setup
    # Known at the close of days[379]: in force from the next session.
    set_state(wh, EMERGENCY, True, "test: accuracy below threshold", days[379].date(), days[380].date())
    _materialize(wh, cfg, days[300].strftime("%Y-%m-%d"), days[-1].strftime("%Y-%m-%d"))
    a = _alloc(wh)
    a["date"] = pd.to_datetime(a["date"])
    after = a[a.date >= days[380]]
    assert after.loc[after.sleeve == "risky", "weight"].eq(0).all()
    assert after.loc[after.ticker == "CASH", "reasons"].str.contains(EMERGENCY).all()
    assert a.loc[(a.date < days[380]) & (a.sleeve == "risky"), "weight"].sum() > 0


def test_ml_mode_assets_trade_what_the_backtest_calls_ml_barbell(setup):
    """strategy.mode ml: the signals and allocations assets decide with the skill-scaled alpha (the model
    set's calibration IC from the registry) and the chosen risk forecast, exactly as the backtest's
    ml_barbell recomputes them; the planted forecast (the universe 3x its trailing volatility) binds."""
    from portfolio_dagster.assets.backtest import barbell_allocations, ml_barbell_allocations
    from portfolio_dagster.assets.risk_forecasts import chosen_volatility
    from portfolio_dagster.quant.risk import UNIVERSE
    from portfolio_dagster.quant.signals import RULE_BASED

    wh, cfg, days = setup
    close = wh.query("SELECT date, ticker, close FROM prices WHERE ticker LIKE 'S%'")
    close = close.pivot(index="date", columns="ticker", values="close").sort_index()
    r = close.pct_change()
    vol = r.rolling(20).std() * HORIZON**0.5
    vol[UNIVERSE] = 3 * r.mean(axis=1).rolling(20).std() * HORIZON**0.5
    risk = vol.stack().rename("volatility").reset_index()
    risk.columns = ["date", "ticker", "volatility"]
    wh.replace_where("risk_forecasts", risk.assign(horizon=HORIZON, model="chosen", valid_from=days[0]))
    registry = {
        "model_id": "test",
        "model_type": "ensemble",
        "horizon": HORIZON,
        "train_start": days[0],
        "train_end": days[1],
        "valid_from": days[2],
        "trained_at": days[2],
        "config_hash": "h",
        "features": "[]",
        "metrics": '{"validation_ic": 0.05}',
        "artifact": "none",
        "artifact_sha256": "none",
    }
    wh.replace_where("model_registry", pd.DataFrame([registry]))
    _materialize(wh, cfg, days[300].strftime("%Y-%m-%d"), days[-1].strftime("%Y-%m-%d"))
    stored = _alloc(wh)
    assert (wh.query("SELECT source FROM signals")["source"] == "ml").mean() > 0.5
    settings = PipelineSettings(config_path=str(cfg)).config
    first, end = days[300].date(), days[-1].date() + pd.Timedelta(days=1)
    ml = ml_barbell_allocations(wh, settings, first, end, chosen_volatility(wh, HORIZON, first, end))
    columns = ["date", "ticker", "weight", "sleeve"]
    got = stored.assign(date=pd.to_datetime(stored["date"]))[columns]
    got = got.sort_values(["date", "ticker"]).reset_index(drop=True)
    want = ml[columns].sort_values(["date", "ticker"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    rule = barbell_allocations(wh, settings, first, end, RULE_BASED)

    # The riskier market forecast cuts the volatility target's share (the rule's trailing one does not).
    def vol_cut(alloc):
        return alloc.loc[alloc["ticker"] == "CASH", "reasons"].str.contains("vol_derisk").mean()

    assert vol_cut(stored) > 0.5 and vol_cut(rule) < 0.5
