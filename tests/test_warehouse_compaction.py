"""The working copy is compacted when a publication finds it over 1.25x its live data (a re-run deletes
and rewrites every range, year by year; DuckDB reuses freed blocks but never returns them): the published
file shrinks to the live data and holds the same rows, tables, views and keys, the pipeline goes on
writing it, and a reader holding the old published file keeps its snapshot throughout."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.resources import publication, warehouse
from portfolio_dagster.resources.warehouse import Warehouse

DAYS = pd.bdate_range("2000-01-03", "2007-12-31")


@pytest.fixture
def wh(tmp_path, monkeypatch):
    monkeypatch.setattr(warehouse, "_LOCK_WAIT_SECONDS", 2.0)
    return Warehouse(path=str(tmp_path / "warehouse.duckdb"))


def _prices(seed: int, tickers: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = pd.MultiIndex.from_product([[f"T{i:03d}" for i in range(tickers)], DAYS], names=["ticker", "date"])
    close = np.exp(rng.normal(0, 0.01, len(keys)).cumsum()) * 100
    return keys.to_frame(index=False).assign(
        open=close, high=close * 1.01, low=close * 0.99, close=close, volume=1e6, source="csv"
    )


def _rerun_by_year(working: Path, seed: int) -> None:
    """What a re-run does to the working copy: each year's rows deleted and written again, a transaction
    per year (the yearly stages)."""
    con = duckdb.connect(str(working))
    try:
        con.register("fresh", _prices(seed))
        for year in sorted(set(DAYS.year)):
            start, end = pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year + 1}-01-01")
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM prices WHERE date >= ? AND date < ?", [start, end])
            con.execute(
                "INSERT INTO prices BY NAME SELECT * FROM fresh WHERE date >= ? AND date < ?", [start, end]
            )
            con.execute("COMMIT")
    finally:
        con.close()


def _state(path: Path) -> tuple[pd.DataFrame, list, float]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT * FROM prices ORDER BY ticker, date").df()
        objects = con.execute("SELECT table_name, table_type FROM information_schema.tables ORDER BY ALL")
        return rows, objects.fetchall(), publication.free_share(con, path)
    finally:
        con.close()


def _alert() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "alert_id": ["a"],
            "at": [pd.Timestamp("2024-01-02")],
            "kind": "k",
            "severity": "info",
            "message": "m",
            "details": "{}",
            "deliveries": "{}",
        }
    )


def test_a_rewritten_warehouse_is_compacted_on_publication_and_a_reader_keeps_its_snapshot(wh):
    published, working = Path(wh.path), Path(wh.working_path)
    wh.replace_where("prices", _prices(0))
    live_size = published.stat().st_size
    _, objects_before, _ = _state(published)
    reader = duckdb.connect(str(published), read_only=True)  # an analyst's notebook, held throughout
    try:
        seen = reader.execute("SELECT count(*), min(close), max(close) FROM prices").fetchall()
        _rerun_by_year(working, seed=1)
        grown = working.stat().st_size
        live, _, share = _state(working)
        assert share > publication.COMPACT_FREE_SHARE and grown > 1.5 * live_size
        wh.append("alerts", _alert())  # a write outside a unit of work: published now, compacted first
        assert (
            reader.execute("SELECT count(*), min(close), max(close) FROM prices").fetchall() == seen
        )  # its snapshot
    finally:
        reader.close()  # (in this process a second connection to the path would share its snapshot)
    rows, objects, after = _state(published)
    pd.testing.assert_frame_equal(rows, live)
    assert np.allclose(live["close"], _prices(1).sort_values(["ticker", "date"])["close"])
    assert objects == objects_before and any(kind == "VIEW" for _, kind in objects)
    assert after < 0.05 and published.stat().st_size < 0.6 * grown
    assert working.stat().st_size == published.stat().st_size
    with duckdb.connect(str(working)) as con, pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO prices SELECT * FROM prices LIMIT 1")  # the primary key kept
    wh.append("alerts", _alert().assign(alert_id="b"))  # the pipeline goes on writing the compact copy
    assert wh.query("SELECT count(*) AS n FROM alerts")["n"].iat[0] == 2
    assert not list(publication.state_dir(published).glob("compact-*"))


def test_a_working_copy_under_1_25x_its_data_is_published_as_it_is(wh):
    wh.replace_where("prices", _prices(0))
    working = Path(wh.working_path)
    inode = working.stat().st_ino
    wh.append("alerts", _alert())
    assert working.stat().st_ino == inode  # not rebuilt
    assert _state(Path(wh.path))[2] <= publication.COMPACT_FREE_SHARE
