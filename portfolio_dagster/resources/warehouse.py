"""The DuckDB warehouse: short-lived connections, one transaction per written range."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from pydantic import PrivateAttr

from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.paths import REMOTE_WAREHOUSE_PREFIXES
from portfolio_dagster.quant.panel import wide_coded
from portfolio_dagster.resources import publication
from portfolio_dagster.resources.schema import check_table, ensure_schema, has_tables

# DuckDB allows one writing process per file; a reader waits for a writer this long.
_LOCK_WAIT_SECONDS = 300.0
# Working copies held open in this process (Warehouse.held), by path: every connection to one in this
# process attaches to the held database (DuckDB refuses a second configuration of an open file).
_HELD: dict[str, duckdb.DuckDBPyConnection] = {}


def _open(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting out another process's lock on the file (the pipeline's own writers)."""
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config={"threads": 1})
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class Warehouse(dg.ConfigurableResource):
    """The published DuckDB file users read (`path`); the pipeline works on its working copy
    (resources/publication.py). All SQL values go in as parameters."""

    path: str
    _unit: contextlib.AbstractContextManager | None = PrivateAttr(default=None)

    @property
    def is_local(self) -> bool:
        """A local file (published for readers); a MotherDuck database (`md:`) is written directly."""
        return not self.path.startswith(REMOTE_WAREHOUSE_PREFIXES)

    @property
    def working_path(self) -> str:
        """The file the pipeline reads and writes; users read `path`, its published copy."""
        return str(publication.working_path(Path(self.path))) if self.is_local else self.path

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the working copy (created from the published file on first use); inside
        `held()`, a connection to the database held open there (its schema already applied)."""
        if self._is_held:
            con = _open(self.working_path)  # DuckDB's instance of this file in this process: no reopen
            try:
                yield con
            finally:
                con.close()
            return
        if self.is_local:
            self._ensure_working_copy()
        con = _open(self.working_path, read_only=read_only and Path(self.working_path).exists())
        try:
            if not read_only:
                ensure_schema(con, self.working_path)
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the working copy open (read-write) inside the block: each connect() then attaches to
        it instead of opening the file (~20 ms for the catalog of a 2.9 GB warehouse, ~30 steps a daily
        session, each with a few queries: ~2 s of a 500-name session). Other processes wait for the file
        until the block ends, as for a write: hold it inside a step, after its pool slot. Held across a
        run's steps it deadlocked with the `warehouse` pool (this run holding the file and waiting for a
        slot another process held while it waited for the file)."""
        key = self.working_path
        if key in _HELD or not self.is_local:
            yield
            return
        self._ensure_working_copy()
        with self.unit_of_work():  # its publication, if it is the outermost, after the file is let go
            _HELD[key] = _open(key)
            try:
                ensure_schema(_HELD[key], key)
                yield
            finally:
                _HELD.pop(key).close()

    def _ensure_working_copy(self) -> None:
        Path(self.working_path).parent.mkdir(parents=True, exist_ok=True)
        publication.ensure_working_copy(Path(self.path), _open)

    @property
    def _is_held(self) -> bool:
        return self.working_path in _HELD

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """Writes inside (this process) reach the published file once, when the outermost unit ends."""
        if not self.is_local:
            yield
            return
        with publication.unit_of_work(Path(self.path), _open):
            yield

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection whose statements inside the block commit together, or roll back if it raises."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _committed(self) -> None:
        if self.is_local:
            publication.wrote(Path(self.path), _open)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A run's (or, with the multiprocess executor, a step's) writes are published once, at its end.
        self._unit = self.unit_of_work()
        self._unit.__enter__()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._unit is not None:
            self._unit.__exit__(None, None, None)
            self._unit = None

    def query(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        with self.connect(read_only=True) as con:
            if not self._is_held and not has_tables(con):
                return pd.DataFrame()
            return con.execute(sql, list(params)).df()

    def frame(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        """Like query, through Arrow: text columns become pandas categoricals (each distinct string once,
        not a Python object per row: the ticker of millions of feature rows) and dates datetime64[us]
        as query gives them. For the large reads (features for the models and forecasts)."""
        with self.connect(read_only=True) as con:
            if not self._is_held and not has_tables(con):
                return pd.DataFrame()
            table = con.sql(sql, params=list(params)).to_arrow_table()
        frame = table.to_pandas(strings_to_categorical=True, date_as_object=False, self_destruct=True)
        del table
        for name, dtype in frame.dtypes.items():
            if isinstance(dtype, pd.CategoricalDtype):  # sorted categories: a sort orders as on text
                frame[name] = frame[name].cat.reorder_categories(sorted(dtype.categories))
            elif pd.api.types.is_datetime64_dtype(dtype) and dtype != "datetime64[us]":
                frame[name] = frame[name].astype("datetime64[us]")
        return frame

    def universe_prices(
        self,
        start: dt.date,
        end: dt.date,
        config: PipelineConfig,
        columns: str = "ticker, date, open, high, low, close, volume",
    ) -> pd.DataFrame:
        """Prices of the tradable universe (no benchmark, no safe assets) with start <= date < end."""
        frame = self.query(
            f"SELECT {columns} FROM prices WHERE {_UNIVERSE_ROWS} ORDER BY ticker, date",
            [start, end, _excluded(config)],
        )
        # Typed even when empty (a day past the data): stages merge on a datetime `date`.
        if frame.columns.empty:  # no tables yet
            names = [c.strip() for c in columns.split(",")]
            frame = pd.DataFrame({c: pd.Series(dtype=object if c == "ticker" else float) for c in names})
        frame["date"] = pd.to_datetime(frame["date"])
        return frame

    def universe_panels(
        self, start: dt.date, end: dt.date, config: PipelineConfig, columns: Sequence[str] = ("close",)
    ) -> dict[str, pd.DataFrame]:
        """Each of `columns` of the universe_prices rows as a date x ticker panel (quant/panel.wide_many's
        shape), read through Arrow and placed by index (no pivot, no Python string per row)."""
        frame = self.frame(
            f"SELECT ticker, date, {', '.join(columns)} FROM prices WHERE {_UNIVERSE_ROWS}",
            [start, end, _excluded(config)],
        )
        if frame.empty:
            empty = pd.DataFrame(index=pd.DatetimeIndex([], name="date"), dtype=float)
            return {c: empty.copy() for c in columns}
        return wide_coded(frame, list(columns))

    def replace_range(self, table: str, frame: pd.DataFrame, start: dt.date, end: dt.date) -> None:
        """Replace rows with start <= date < end by `frame`, atomically. A table whose key the writer checks
        (WRITER_KEYS) fails the write, and keeps its rows, when the range would hold a key twice."""
        table = check_table(table)
        with self._transaction() as con:
            con.execute(f"DELETE FROM {table} WHERE date >= ? AND date < ?", [start, end])
            _insert(con, table, frame)
            if table in WRITER_KEYS and len(frame):
                _check_unique(con, table, WRITER_KEYS[table], start, end)
        self._committed()

    def replace_where(
        self, table: str, frame: pd.DataFrame, column: str | None = None, values: Sequence[object] = ()
    ) -> None:
        """Replace the rows whose `column` is in `values` (all rows when column is None), atomically."""
        table = check_table(table)
        with self._transaction() as con:
            if column is None:
                con.execute(f"DELETE FROM {table}")
            elif values:
                if not column.isidentifier():
                    raise ValueError(f"bad column name {column!r}")
                con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT unnest(?))", [list(values)])
            _insert(con, table, frame)
        self._committed()

    def append_all(self, frames: Sequence[tuple[str, pd.DataFrame]]) -> None:
        """Insert every frame into its table in ONE transaction (a paper session: all or nothing)."""
        with self._transaction() as con:
            for table, frame in frames:
                _insert(con, check_table(table), frame)
        self._committed()

    def delete_from(self, tables: Sequence[str], column: str, since: dt.date | None) -> dict[str, int]:
        """Delete the rows of `tables` whose `column` >= since (all rows when since is None), in one
        transaction; returns the rows removed per table."""
        if not column.isidentifier():
            raise ValueError(f"bad column name {column!r}")
        removed: dict[str, int] = {}
        with self._transaction() as con:
            for table in tables:
                table = check_table(table)
                where, params = (f" WHERE {column} >= ?", [since]) if since else ("", [])
                removed[table] = int(
                    con.execute(f"SELECT count(*) FROM {table}{where}", params).fetchone()[0]
                )
                con.execute(f"DELETE FROM {table}{where}", params)
        self._committed()
        return removed

    def replace_actions(self, source: str, actions: pd.DataFrame, start: dt.date, end: dt.date) -> None:
        """Replace `source`'s corporate actions dated start <= date < end by `actions` (ticker, date, kind,
        ratio, amount), atomically; an action already stored keeps its recorded_at (when it was first
        known), a new one is recorded now."""
        now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
        with self._transaction() as con:
            known = con.execute(
                "SELECT ticker, date, kind, recorded_at FROM corporate_actions "
                "WHERE source = ? AND date >= ? AND date < ? AND kind <> 'restatement'",
                [source, start, end],
            ).df()
            # Restatements are detected (Warehouse.rebase), not delivered: kept.
            con.execute(
                "DELETE FROM corporate_actions WHERE source = ? AND date >= ? AND date < ? "
                "AND kind <> 'restatement'",
                [source, start, end],
            )
            if len(actions):
                frame = actions.assign(date=pd.to_datetime(actions["date"]), source=source)
                known["date"] = pd.to_datetime(known["date"])
                frame = frame.merge(known, on=["ticker", "date", "kind"], how="left")
                frame["recorded_at"] = frame["recorded_at"].fillna(now)
                _insert(con, "corporate_actions", frame)

    def rebase(self, source: str, restatements: pd.DataFrame) -> None:
        """Re-base `source`'s stored history by each restatement (ticker, date, ratio: new/old price): its
        raw rows and the prices taken from it dated before `date` get prices x ratio and volume / ratio,
        and the restatement is recorded in corporate_actions, all in one transaction."""
        if restatements.empty:
            return
        raw = check_table(f"raw_prices_{source}")
        now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
        with self._transaction() as con:
            for r in restatements.itertuples(index=False):
                for table, extra in ((raw, ""), ("prices", " AND source = ?")):
                    con.execute(
                        f"UPDATE {table} SET open = open * ?, high = high * ?, low = low * ?, "
                        f"close = close * ?, volume = volume / ? WHERE ticker = ? AND date < ?{extra}",
                        [r.ratio] * 5 + [r.ticker, r.date] + ([source] if extra else []),
                    )
                con.execute(
                    "INSERT OR REPLACE INTO corporate_actions (ticker, date, kind, ratio, amount, "
                    "source, recorded_at) VALUES (?, ?, 'restatement', ?, NULL, ?, ?)",
                    [r.ticker, r.date, r.ratio, source, now],
                )

    def append(self, table: str, frame: pd.DataFrame) -> None:
        table = check_table(table)
        with self.connect() as con:
            _insert(con, table, frame)
        self._committed()


# The tradable universe's price rows with start <= date < end (parameters: start, end, _excluded).
_UNIVERSE_ROWS = "date >= ? AND date < ? AND ticker NOT IN (SELECT unnest(?))"


def _excluded(config: PipelineConfig) -> list[str]:
    """Not the tradable universe: the benchmark and the safe assets."""
    return [config.data.benchmark, *config.strategy.safe_assets]


# Tables whose key is unique by the writer's check instead of a PRIMARY KEY (sql/tables: the index cost
# 5x the insert time and memory on the largest tables). Their writes go through replace_range.
WRITER_KEYS = {
    "forecasts": ("ticker", "date", "horizon", "model"),
    "risk_forecasts": ("ticker", "date", "horizon", "model"),
}


def _check_unique(
    con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], start: dt.date, end: dt.date
) -> None:
    columns = ", ".join(key)
    found = con.execute(
        f"SELECT {columns}, count(*) AS n FROM {table} WHERE date >= ? AND date < ? "
        f"GROUP BY {columns} HAVING count(*) > 1 LIMIT 1",
        [start, end],
    ).fetchall()
    if found:
        row = dict(zip((*key, "rows"), found[0], strict=True))
        raise ValueError(f"{table}: the key ({columns}) would be duplicated: {row}")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    finally:
        # After a failed INSERT the transaction is aborted and unregistering fails too: keep the
        # INSERT's error (the cause), not "Current transaction is aborted".
        with contextlib.suppress(duckdb.Error):
            con.unregister("_incoming")
