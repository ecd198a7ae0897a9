"""`pmx run` to a date, then `pmx replay` over the following sessions, on real sample prices written as
a CSV (5 tickers, the safe sleeve and the index): one paper_account row per session, the ledger
reconciles, a second replay resumes without rewriting, and the report shows the paper section."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from portfolio_dagster.quant.ledger import reconcile
from portfolio_dagster.replay import sessions_between
from tests.pipeline_helpers import read_table, sample_slice_csv, small_config

RUN_END, REPLAY = "1999-10-29", ("1999-11-01", "1999-11-05")
PAPER = ("paper_orders", "paper_fills", "paper_positions", "paper_account")


def _pmx(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`pmx` in its own process, as a user runs it (the job definitions read the data folder's config
    when first imported, so one process serves one configuration)."""
    env = {**os.environ, "PMX_HOME": str(home)}
    env.pop("PMX_CONFIG", None)
    env.pop("PMX_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-m", "portfolio_dagster.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    home = tmp / "home"
    run = _pmx(
        home,
        "run",
        "--config",
        str(small_config(tmp / "c.yaml")),
        "--source",
        "csv",
        "--csv",
        str(sample_slice_csv(tmp / "p.csv")),
        "--end",
        RUN_END,
    )
    assert run.returncode == 0, run.stderr
    replay = _pmx(home, "replay", "--start", REPLAY[0], "--end", REPLAY[1])
    assert replay.returncode == 0, replay.stderr
    return home


def _tables(home: Path) -> dict[str, pd.DataFrame]:
    return {
        t: read_table(home / "warehouse.duckdb", t)
        .sort_values(list(read_table(home / "warehouse.duckdb", t).columns[:2]))
        .reset_index(drop=True)
        for t in PAPER
    }


def test_replay_books_one_reconciled_session_per_exchange_session(replayed):
    t = _tables(replayed)
    sessions = sessions_between(pd.Timestamp(REPLAY[0]).date(), pd.Timestamp(REPLAY[1]).date())
    assert [pd.Timestamp(d).date() for d in t["paper_account"]["date"]] == sessions
    assert reconcile(t["paper_account"], t["paper_positions"], t["paper_fills"], t["paper_orders"]) == []
    assert (t["paper_account"]["cash_usd"] >= 0).all() and (t["paper_positions"]["quantity"] >= 0).all()
    assert t["paper_account"]["backtest_return"].iloc[1:].notna().all()  # the shadow, every session
    assert "Paper trading" in (replayed / "reports" / "report.html").read_text()


def test_the_decay_sensor_retrains_during_the_replay_and_later_forecasts_use_it(replayed):
    """On this slice the live skill at the replay's start is below operations.retrain_below: the sensor's
    tick after a replayed session requests a retrain that trains a set valid from the next session."""
    warehouse = replayed / "warehouse.duckdb"
    reg = read_table(warehouse, "model_registry")
    decay = reg[reg["trigger"] == "decay"]
    sessions = sessions_between(pd.Timestamp(REPLAY[0]).date(), pd.Timestamp(REPLAY[1]).date())
    assert len(decay) and decay["reason"].str.contains("directional accuracy").all()
    valid_from = pd.Timestamp(decay["valid_from"].min()).date()
    assert valid_from in sessions[1:]
    fc = read_table(warehouse, "forecasts")
    fc = fc[(fc["model"] == "ensemble") & (pd.to_datetime(fc["date"]).dt.date >= valid_from)]
    assert len(fc) and fc["model_id"].isin(decay["model_id"]).all()
    assert (reg.loc[reg["trigger"] != "decay", "trigger"] == "schedule").all()


def test_a_second_replay_resumes_and_rewrites_nothing(replayed):
    before = _tables(replayed)
    again = _pmx(replayed, "replay", "--start", REPLAY[0], "--end", REPLAY[1])
    assert again.returncode == 0 and "0 session(s), 5 already booked" in again.stdout
    after = _tables(replayed)
    for name in PAPER:
        pd.testing.assert_frame_equal(after[name], before[name])


def test_replay_of_a_bad_range_is_one_line(replayed):
    bad = _pmx(replayed, "replay", "--start", "1999-11-05", "--end", "1999-11-01")
    assert (
        bad.returncode == 1 and bad.stderr.startswith("pmx: error: --end") and "Traceback" not in bad.stderr
    )


def test_ctrl_c_sets_the_stop_flag_instead_of_interrupting_the_session():
    import os
    import signal

    from portfolio_dagster.replay import _stop_after_session

    with _stop_after_session() as flag:
        os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: finish the session, then stop
        assert flag["stop"]
        with pytest.raises(KeyboardInterrupt):  # a second one stops at once
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
