"""The warehouse's schema: sql/'s CREATE statements, the tables they declare, and applying them (with
the migrations of older files) once per process and file."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
# (path, inode) of the working copies this process applied sql/ to: ~14 ms a time, once is enough (a
# file replaced, by a compaction or by hand, is a new inode and gets it again).
_SCHEMA_APPLIED: set[tuple[str, int]] = set()


def ddl_statements() -> list[str]:
    """Every CREATE statement of sql/, tables first, then views."""
    files = sorted((SQL_DIR / "tables").glob("*.sql")) + [SQL_DIR / "views.sql"]
    return [f.read_text() for f in files]


def table_names() -> frozenset[str]:
    con = duckdb.connect(":memory:")
    for ddl in ddl_statements():
        con.execute(ddl)
    rows = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return frozenset(r[0] for r in rows)


TABLES = table_names()


def check_table(table: str) -> str:
    # Table names come from code, never from users; still refuse anything not declared in sql/.
    if table not in TABLES:
        raise ValueError(f"unknown warehouse table {table!r}")
    return table


def ensure_schema(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """Migrate and apply sql/ to this connection's file, unless this process did it already."""
    try:
        key = (path, os.stat(path).st_ino)
    except FileNotFoundError:  # a remote (MotherDuck) database
        _apply_schema(con)
        return
    if key not in _SCHEMA_APPLIED:
        _apply_schema(con)
        _SCHEMA_APPLIED.add(key)


def _apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Migrate an older warehouse, then every CREATE ... IF NOT EXISTS of sql/."""
    _migrate(con)
    for ddl in ddl_statements():
        con.execute(ddl)


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Older warehouses: the single-row-per-flag operations_state table became a view over an
    append-only history; the old table is kept under another name, never dropped."""
    old = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'operations_state' "
        "AND table_type = 'BASE TABLE'"
    ).fetchone()[0]
    if old:
        con.execute("ALTER TABLE operations_state RENAME TO operations_state_v1")


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    # fetchall: a finished result (a relation may run on the connection next).
    return bool(con.execute("SELECT count(*) FROM information_schema.tables").fetchall()[0][0])
