"""The paper ledger through Dagster on a warehouse of synthetic data (labelled test data: random-walk
stocks with opens, CASH/BOND indices, an index, ensemble-shaped forecasts): sessions booked in order
reconcile and track the backtest; a later run over booked sessions changes nothing; a crash mid-session
leaves the previous session intact and a re-run completes it; `pmx paper reset` removes and says so."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.paper import paper_ledger
from portfolio_dagster.assets.signals import signals
from portfolio_dagster.checks.paper import paper_ledger_reconciles
from portfolio_dagster.cli import main
from portfolio_dagster.quant.ledger import reconcile
from portfolio_dagster.resources import warehouse as warehouse_module
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse
from tests.strategy_data import HORIZON, forecasts_from, market

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
PAPER = ("paper_orders", "paper_fills", "paper_positions", "paper_account")
# Columns that name the run that booked a row (they differ when a session is booked again).
RUN_COLUMNS = ("run_id", "booked_at", "decision_id")


@pytest.fixture()
def ledger(tmp_path):
    close, safe, regimes = market(n_days=420, n_assets=5, seed=4)
    rng = np.random.default_rng(9)
    opens = close.shift(1) * np.exp(rng.normal(0, 0.004, close.shape))  # the open between two closes
    index = close.mean(axis=1).rename("IDX")
    wh = Warehouse(path=str(tmp_path / "w.duckdb"))
    px = pd.concat([close, safe, index], axis=1).stack().rename("close").reset_index()
    px.columns = ["date", "ticker", "close"]
    op = opens.stack().rename("open").reset_index()
    op.columns = ["date", "ticker", "open"]
    wh.replace_where("prices", px.merge(op, on=["date", "ticker"], how="left").assign(source="test"))
    wh.replace_where(
        "forecasts", forecasts_from(close, 0.5).assign(horizon=HORIZON, model="ensemble", model_id="test")
    )
    wh.replace_where("regimes", regimes)
    cfg = tmp_path / "config.yaml"
    days = close.index
    cfg.write_text(
        yaml.safe_dump(
            {
                "strategy": {
                    "signal_horizon": HORIZON,
                    "covariance_days": 60,
                    "safe_assets": ["CASH", "BOND"],
                    "drawdown_days": 60,
                },
                "data": {"benchmark": "IDX"},
                "backtest": {"start": days[250].date().isoformat()},
                "paper": {"initial_cash_usd": 1_000_000},
            }
        )
    )
    _run(wh, cfg, [signals, allocations], days[250], days[-1])
    return wh, cfg, days


def _run(wh, cfg, assets, start, end, check=False, expect_success=True):
    result = dg.materialize(
        [*assets, *([paper_ledger_reconciles] if check else [])],
        resources={"warehouse": wh, "settings": PipelineSettings(config_path=str(cfg))},
        tags={RANGE[0]: start.strftime("%Y-%m-%d"), RANGE[1]: end.strftime("%Y-%m-%d")},
        raise_on_error=expect_success,
    )
    assert result.success == expect_success
    return result


def _tables(wh):
    return {t: wh.query(f"SELECT * FROM {t} ORDER BY ALL") for t in PAPER}


def test_sessions_reconcile_track_the_backtest_and_are_never_rewritten(ledger):
    wh, cfg, days = ledger
    result = _run(wh, cfg, [paper_ledger], days[300], days[359], check=True)
    assert all(c.passed for c in result.get_asset_check_evaluations())
    t = _tables(wh)
    account = t["paper_account"]
    assert len(account) == 60 and account["date"].is_unique
    assert pd.isna(account["daily_return"].iat[0]) and account["nav_usd"].iat[0] == 1_000_000
    assert (account["cash_usd"] >= 0).all()
    assert (t["paper_positions"]["quantity"] > 0).all()
    np.testing.assert_array_equal(
        t["paper_positions"]["quantity"], np.round(t["paper_positions"]["quantity"])
    )
    assert reconcile(account, t["paper_positions"], t["paper_fills"], t["paper_orders"]) == []
    # Fills are at the next session's open; orders came from the previous close.
    fills = t["paper_fills"]
    assert len(fills) and (pd.to_datetime(fills["date"]) > pd.to_datetime(fills["order_date"])).all()
    both = account.dropna(subset=["daily_return", "backtest_return"])
    corr = np.corrcoef(both["daily_return"], both["backtest_return"])[0, 1]
    assert len(both) == 59 and corr >= 0.9
    meta = result.asset_materializations_for_node("paper_ledger")[0].metadata
    assert meta["sessions_booked"].value == 60 and "CASH" in meta["holdings"].value

    _run(wh, cfg, [paper_ledger], days[330], days[359])  # a later run over booked sessions
    after = _tables(wh)
    for name in PAPER:
        pd.testing.assert_frame_equal(after[name], t[name])


def test_a_gap_in_the_ledger_fails_in_one_line(ledger):
    wh, cfg, days = ledger
    _run(wh, cfg, [paper_ledger], days[300], days[305])
    result = _run(wh, cfg, [paper_ledger], days[310], days[312], expect_success=False)
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "booked through" in failure.step_failure_data.error.message


def test_a_crash_mid_session_keeps_the_previous_session_and_a_rerun_completes(ledger, monkeypatch):
    wh, cfg, days = ledger
    _run(wh, cfg, [paper_ledger], days[300], days[320])
    before = _tables(wh)
    real_insert = warehouse_module._insert

    def crash_on_account(con, table, frame):
        if table == "paper_account":
            raise RuntimeError("killed mid-session")
        real_insert(con, table, frame)

    monkeypatch.setattr(warehouse_module, "_insert", crash_on_account)
    _run(wh, cfg, [paper_ledger], days[321], days[321], expect_success=False)
    for name in PAPER:  # nothing of session 321 landed
        pd.testing.assert_frame_equal(_tables(wh)[name], before[name])
    monkeypatch.setattr(warehouse_module, "_insert", real_insert)
    _run(wh, cfg, [paper_ledger], days[321], days[321])
    account = _tables(wh)["paper_account"]
    assert pd.Timestamp(account["date"].max()) == days[321] and len(account) == 22


def test_paper_reset_removes_from_a_date_and_rebooking_is_deterministic(ledger, capsys, monkeypatch):
    wh, cfg, days = ledger
    _run(wh, cfg, [paper_ledger], days[300], days[340])
    whole = _tables(wh)
    since = days[330].date().isoformat()
    # The CLI's --warehouse sets PMX_WAREHOUSE for its process; here the test's environment is restored after.
    monkeypatch.setenv("PMX_WAREHOUSE", wh.path)
    assert main(["paper", "reset", "--from", since]) == 0
    said = capsys.readouterr().out
    assert f"from {since}" in said and "11 paper_account" in said
    assert pd.Timestamp(wh.query("SELECT max(date) AS d FROM paper_account")["d"].iat[0]) == days[329]
    _run(wh, cfg, [paper_ledger], days[330], days[340])
    again = _tables(wh)
    for name in PAPER:
        keep = [c for c in whole[name].columns if c not in RUN_COLUMNS]
        pd.testing.assert_frame_equal(again[name][keep], whole[name][keep])
