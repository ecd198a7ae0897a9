"""Dagster's SQLite event log with one engine per shard kept open.

The stock SqliteEventLogStorage builds a new SQLAlchemy engine for every event, so statements are
compiled anew each time: a single-run backfill over 30 years of daily partitions writes ~2 events
per partition and spent ~15 ms on each. Keeping the engine (and its compiled-statement cache) per
shard, with SQLite in WAL mode, stores the same events in the same files several times faster.
Configured in the instance's dagster.yaml (see portfolio_dagster/instance.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from collections import OrderedDict

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import SingletonThreadPool


_MAX_OPEN_SHARDS = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data=None):
        # Set before the base class initializes its index shard through _connect.
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._known_tables: set[str] = set()
        self._known_asset_key_cols: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
            else:
                engine = create_engine(self.conn_string_for_shard(shard), poolclass=SingletonThreadPool,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
                event.listen(engine, "connect", _pragmas)
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
                self._engines[shard] = engine
                # Each run has its own shard; keep only the recently used ones open.
                while len(self._engines) > _MAX_OPEN_SHARDS:
                    self._engines.popitem(last=False)[1].dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                with conn.begin():
                    yield conn

    # Schema reflection ran on every event; the schema only grows (migrations add, never drop),
    # so a positive answer stays true for the life of the process.
    def has_table(self, table_name: str) -> bool:
        if table_name not in self._known_tables and super().has_table(table_name):
            self._known_tables.add(table_name)
        return table_name in self._known_tables

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        if column_name not in self._known_asset_key_cols and super()._has_asset_key_col_on_connection(
                conn, column_name):
            self._known_asset_key_cols.add(column_name)
        return column_name in self._known_asset_key_cols

    def dispose(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
        super().dispose()


def _pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
