"""Every multi-statement write of the Warehouse is one transaction: a write that fails part-way leaves
the rows it would have replaced (synthetic prices); a held warehouse (one open database per step)."""

import datetime as dt
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

from portfolio_dagster.resources import warehouse as warehouse_module
from portfolio_dagster.resources.warehouse import Warehouse


def _prices(days: pd.DatetimeIndex, close: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"ticker": "AAA", "date": days, "open": close, "high": close, "low": close, "close": close}
    ).assign(volume=1.0, source="csv")


def test_a_failed_replace_keeps_the_rows_it_would_have_replaced(tmp_path):
    wh = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    days = pd.bdate_range("2020-01-01", "2020-01-31")
    wh.replace_range("prices", _prices(days, 10.0), dt.date(2020, 1, 1), dt.date(2020, 2, 1))
    bad = _prices(days, 11.0).assign(no_such_column=1)  # INSERT ... BY NAME fails after the DELETE
    for write in (
        lambda: wh.replace_range("prices", bad, dt.date(2020, 1, 1), dt.date(2020, 2, 1)),
        lambda: wh.replace_where("prices", bad, "ticker", ["AAA"]),
        lambda: wh.append_all([("prices", _prices(days[:1] + pd.Timedelta(days=60), 12.0)), ("prices", bad)]),
    ):
        with pytest.raises(Exception, match="no_such_column"):
            write()
        kept = wh.query("SELECT date, close FROM prices ORDER BY date")
        assert len(kept) == len(days) and (kept["close"] == 10.0).all()
    assert wh.delete_from(["prices"], "date", dt.date(2020, 1, 15)) == {"prices": 13}


def test_a_range_that_would_duplicate_a_forecast_key_fails_and_keeps_the_stored_rows(tmp_path):
    """forecasts and risk_forecasts have no PRIMARY KEY (its index cost 5x the insert): replace_range
    checks their key in the write's transaction instead, and a duplicate rolls the write back."""
    wh = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    days = pd.bdate_range("2020-01-01", "2020-01-10")
    rows = pd.DataFrame({"ticker": "AAA", "date": days, "horizon": 5, "model": "ewma", "volatility": 0.02})
    rows["valid_from"] = days[0]
    window = (dt.date(2020, 1, 1), dt.date(2020, 1, 11))
    wh.replace_range("risk_forecasts", rows, *window)
    twice = pd.concat([rows.assign(volatility=0.03), rows.iloc[[3]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"risk_forecasts: the key \(ticker, date, horizon, model\)"):
        wh.replace_range("risk_forecasts", twice, *window)
    kept = wh.query("SELECT volatility FROM risk_forecasts")
    assert len(kept) == len(days) and (kept["volatility"] == 0.02).all()
    wh.replace_range("risk_forecasts", rows.assign(volatility=0.03), *window)  # a whole range, once: fine
    assert (wh.query("SELECT volatility FROM risk_forecasts")["volatility"] == 0.03).all()


def test_a_held_warehouse_serves_every_connection_of_this_process_and_publishes_when_let_go(tmp_path):
    """Inside held(): reads, writes and another Warehouse object on the same file attach to the one
    open database (DuckDB refuses a second configuration of an open file: a read-only open would fail);
    another process cannot open the working copy until the block ends; the writes are published then."""
    wh = Warehouse(path=str(tmp_path / "w.duckdb"))
    days = pd.bdate_range("2024-01-02", periods=3)
    wh.append("prices", _prices(days[:1], 10.0))
    probe = (
        "import duckdb, sys\n"
        "try:\n"
        f"    duckdb.connect({wh.working_path!r}, read_only=True).close()\n"
        "except duckdb.IOException as e:\n"
        "    sys.exit(3 if 'lock' in str(e).lower() else 4)\n"
    )
    with wh.held():
        assert wh.working_path in warehouse_module._HELD
        wh.append("prices", _prices(days[1:2], 11.0))
        other = Warehouse(path=wh.path)
        assert other.query("SELECT count(*) AS n FROM prices")["n"].iat[0] == 2
        assert subprocess.run([sys.executable, "-c", probe]).returncode == 3  # locked meanwhile
        con = duckdb.connect(wh.path, read_only=True)  # the published file: not yet the new row
        assert con.execute("SELECT count(*) FROM prices").fetchone()[0] == 1
        con.close()
    assert wh.working_path not in warehouse_module._HELD
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0
    con = duckdb.connect(wh.path, read_only=True)
    assert con.execute("SELECT count(*) FROM prices").fetchone()[0] == 2
    con.close()
