"""`pmx run` to a date, then `pmx replay` over the following sessions, on real sample prices written as
a CSV (5 tickers, the safe sleeve and the index): one paper_account row per session, the ledger
reconciles, a second replay resumes without rewriting, and the report shows the paper section; the vendor's
file re-delivered restated mid-replay is re-based, never stitched."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.quant.ledger import reconcile
from portfolio_dagster.replay import sessions_between
from tests.pipeline_helpers import SLICE_TICKERS, read_table, sample_slice_csv, small_config

RUN_END, REPLAY = "1999-10-29", ("1999-11-01", "1999-11-05")
# Mid-replay the vendor's file is re-delivered restated: sessions to BEFORE_RESTATED, then RESTATED.
BEFORE_RESTATED, RESTATED = "1999-11-03", ("1999-11-04", "1999-11-05")
SPLIT_FACTOR, BASIS_FACTOR = 0.5, 0.98  # a 2:1 split (file halved, split_ratio 2); a vendor's new basis
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


@dataclass
class Restated:
    """The replay's state before the vendor's file came back restated, and what was restated."""

    home: Path
    original: pd.DataFrame  # the file as first delivered
    restated: pd.DataFrame  # as re-delivered
    booked: dict[str, pd.DataFrame]  # the paper tables through the last session before
    features: pd.DataFrame  # stored before the re-delivery
    held: pd.DataFrame  # paper_positions at the last session before (quantity > 0)
    split: str  # a held name after a 2:1 split: its whole history halved, split_ratio 2
    rebased: str  # a held name on a vendor's new basis (x BASIS_FACTOR, no action given)


@pytest.fixture(scope="module")
def replay_across_restatement(tmp_path_factory) -> Restated:
    """`pmx run` to RUN_END, `pmx replay` of the first REPLAY sessions, the vendor's CSV re-delivered
    restated, then `pmx replay` of the rest (RESTATED)."""
    tmp = tmp_path_factory.mktemp("replay")
    home = tmp / "home"
    csv = sample_slice_csv(tmp / "p.csv")
    config = small_config(tmp / "c.yaml")
    # The restatement below needs two stocks held by BEFORE_RESTATED: the rule-based product holds them, the
    # ML product (strategy.mode ml, the default) holds none on this slice. The test is about restatements.
    cfg = yaml.safe_load(config.read_text())
    cfg["strategy"]["mode"] = "rule_based"
    config.write_text(yaml.safe_dump(cfg))
    run = _pmx(home, "run", "--config", str(config), "--source", "csv", "--csv", str(csv), "--end", RUN_END)
    assert run.returncode == 0, run.stderr
    # The models run's step processes log "Executing step ... in subprocess": to pmx.log, not the terminal.
    assert "Executing step" not in run.stdout + run.stderr, run.stderr
    assert "Executing step" in (home / "pmx.log").read_text()
    replay = _pmx(home, "replay", "--start", REPLAY[0], "--end", BEFORE_RESTATED)
    assert replay.returncode == 0, replay.stderr

    wh = home / "warehouse.duckdb"
    original = pd.read_csv(csv, parse_dates=["date"])
    booked = {t: read_table(wh, t) for t in (*PAPER, "paper_adjustments")}
    held = booked["paper_positions"]
    held = held[(pd.to_datetime(held["date"]) == BEFORE_RESTATED) & (held["quantity"] > 0)]
    stocks = sorted(set(held["ticker"]) & set(SLICE_TICKERS))
    assert len(stocks) >= 2, held
    split, rebased = stocks[:2]
    restated = original.copy()
    restated.loc[restated["ticker"] == split, "close"] *= SPLIT_FACTOR
    restated.loc[restated["ticker"] == rebased, "close"] *= BASIS_FACTOR
    restated["split_ratio"] = np.where(
        (restated["ticker"] == split) & (restated["date"] == RESTATED[0]), 1 / SPLIT_FACTOR, np.nan
    )
    features = read_table(wh, "features")
    restated.to_csv(csv, index=False, date_format="%Y-%m-%d")
    replay = _pmx(home, "replay", "--start", RESTATED[0], "--end", REPLAY[1])
    assert replay.returncode == 0, replay.stderr
    return Restated(home, original, restated, booked, features, held, split, rebased)


@pytest.fixture(scope="module")
def replayed(replay_across_restatement) -> Path:
    return replay_across_restatement.home


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
    # Inside the history `pmx run` loaded (to RUN_END, a Friday): the daily partitions begin at its week.
    early = _pmx(replayed, "replay", "--start", "1999-10-22", "--end", "1999-11-01")
    assert early.returncode == 1 and early.stderr.count("\n") == 1, early.stderr
    assert "--start 1999-10-22 is before the daily partitions, which begin at 1999-10-25" in early.stderr


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


def _features(prices: pd.DataFrame, since: str) -> pd.DataFrame:
    from portfolio_dagster.quant import features as feature_set

    stocks = prices[prices["ticker"].isin(SLICE_TICKERS)]
    market = prices[prices["ticker"] == "SP500"].set_index("date")["close"]
    return feature_set.compute(stocks, market, since=pd.Timestamp(since))


def _targets(prices: pd.DataFrame) -> pd.DataFrame:
    from portfolio_dagster.quant import targets as target_set

    return target_set.compute(prices[prices["ticker"].isin(SLICE_TICKERS)], (1, 5, 21, 63))


def _long(frame: pd.DataFrame, tickers, first: str, last: str) -> pd.DataFrame:
    frame = frame.assign(date=pd.to_datetime(frame["date"]).astype("datetime64[ns]"))
    keep = frame["ticker"].isin(tickers) & (frame["date"] >= first) & (frame["date"] <= last)
    return frame[keep].sort_values(["ticker", "date"]).set_index(["ticker", "date"])


def _assert_same(stored: pd.DataFrame, computed: pd.DataFrame, rtol: float) -> None:
    columns = [c for c in computed.columns if c in stored.columns]
    assert len(columns) > 10 and len(stored) and stored.index.equals(computed.index)
    a = stored[columns].to_numpy(dtype=float)
    b = computed[columns].to_numpy(dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6, equal_nan=True)


def test_a_csv_redelivered_restated_mid_replay_is_rebased_and_the_ledger_restated(replay_across_restatement):
    """Mid-replay the vendor's file comes back restated: one held name after a 2:1 split (its whole history
    halved, split_ratio 2 on the next session), another on a new basis (x0.98, no action given). The replay
    records both restatements, re-bases the stored history, restates the ledger's holdings by the same
    factor in new paper_adjustments rows (booked sessions untouched), so its NAV is continuous; the
    features and targets the runs compute after the re-base equal those of the history never restated."""
    r = replay_across_restatement
    wh, split, rebased, held = r.home / "warehouse.duckdb", r.split, r.rebased, r.held
    original, restated = r.original, r.restated
    last = pd.Timestamp(BEFORE_RESTATED)
    # Recorded: each restatement (new/old price) and the split, effective at the open of the re-delivery.
    actions = read_table(wh, "corporate_actions").sort_values(["ticker", "kind"])
    got = {
        (a.ticker, a.kind): (round(a.ratio, 12), str(pd.Timestamp(a.date).date()))
        for a in actions.itertuples()
    }
    assert got == {
        (split, "restatement"): (SPLIT_FACTOR, RESTATED[0]),
        (split, "split"): (1 / SPLIT_FACTOR, RESTATED[0]),
        (rebased, "restatement"): (BASIS_FACTOR, RESTATED[0]),
    }
    assert set(actions["source"]) == {"csv"}
    # The whole stored history is re-based (back to 1995, not only the overlap): it is the file's.
    prices = read_table(wh, "prices").assign(date=lambda f: pd.to_datetime(f["date"]))
    both = prices.merge(restated, on=["ticker", "date"], suffixes=("", "_file"))
    assert len(both) == len(prices) and np.allclose(both["close"], both["close_file"], rtol=1e-12)

    # Append-only: the sessions booked before are bit-identical; the restatement is a new row.
    for name, before in r.booked.items():
        after = read_table(wh, name)
        after = after[pd.to_datetime(after["date"]) <= last]
        key = list(before.columns[:2])
        pd.testing.assert_frame_equal(
            after.sort_values(key).reset_index(drop=True), before.sort_values(key).reset_index(drop=True)
        )
    adjustments = read_table(wh, "paper_adjustments").set_index(["ticker", "kind"])
    assert set(adjustments.index) == {(split, "split"), (rebased, "restatement")}
    assert (pd.to_datetime(adjustments["date"]) == RESTATED[0]).all()
    quantity = held.set_index("ticker")["quantity"]
    row = adjustments.loc[(split, "split")]
    assert (row["quantity_before"], row["quantity_after"]) == (quantity[split], 2 * quantity[split])
    row = adjustments.loc[(rebased, "restatement")]
    assert row["quantity_before"] == quantity[rebased]
    assert row["quantity_after"] == pytest.approx(quantity[rebased] / BASIS_FACTOR, rel=1e-12)
    # NAV continuous: the ledger's return on the re-delivery day is the backtest's on the re-based prices
    # (left unrestated, the split name alone would have cost its weight x 50%).
    account = read_table(wh, "paper_account").assign(date=lambda f: pd.to_datetime(f["date"]))
    day = account[account["date"] == RESTATED[0]].iloc[0]
    weight = float(held.set_index("ticker").loc[split, "weight"])
    assert abs(day["daily_return"] - day["backtest_return"]) < 5e-3 < 0.5 * weight
    assert (
        reconcile(
            read_table(wh, "paper_account"),
            read_table(wh, "paper_positions"),
            read_table(wh, "paper_fills"),
            read_table(wh, "paper_orders"),
        )
        == []
    )

    # Derived tables stay consistent: features and targets are scale-free. The rows the runs computed
    # after the re-base equal those of the history never restated, and the rows stored before it equal
    # a recomputation on the re-based history (so nothing needs recomputing).
    names = (split, rebased)
    features = read_table(wh, "features")
    _assert_same(
        _long(features, names, RESTATED[0], RESTATED[1]),
        _long(_features(original[original["date"] <= RESTATED[1]], RESTATED[0]), names, *RESTATED),
        rtol=1e-4,
    )
    _assert_same(
        _long(r.features, names, "1999-10-01", str(last.date())),
        _long(_features(prices[prices["date"] <= last], "1999-10-01"), names, "1999-10-01", str(last.date())),
        rtol=1e-4,
    )
    _assert_same(
        _long(read_table(wh, "targets"), names, "1999-10-01", RESTATED[1]),
        _long(_targets(original[original["date"] <= RESTATED[1]]), names, "1999-10-01", RESTATED[1]),
        rtol=1e-9,
    )
