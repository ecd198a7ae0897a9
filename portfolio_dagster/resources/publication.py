"""The warehouse users read, published atomically from the working copy the pipeline writes.

DuckDB lets one process write a file, and a read-only connection held open (an analyst's notebook)
makes every writer wait, then fail. So the pipeline never opens the path users read (`--warehouse`,
the *published* file): it writes a working copy under `.<name>.pmx/` beside it and, when a unit of work
commits (a `pmx run`, a replayed session, a run's resource lifetime, a direct write outside a run),
publishes it: CHECKPOINT the working copy, bring a file beside the published one to its bytes, fsync,
and rename that file over the published path. A reader that opened the old file keeps its inode (its
snapshot) for as long as it likes and never holds a lock any writer needs; a new connection opens the
newest published state.

The file brought up to date is the previous publication's (kept as `retired.duckdb`, a second name
for the inode the last rename replaced) when no reader holds it: DuckDB locks a database file for as
long as a connection has it open, so an exclusive open-file-description lock on it succeeds only when
no connection, in this process or another, has it. It then differs from the working copy only where
the last two units of work wrote, and only those 1 MiB chunks are written (a 500-name session: the
2.9 GB copy and fsync took ~1.9 s; comparing the two files, hot in the page cache, ~0.5 s). A held
retired file is left to its reader (its name removed, its inode freed when the reader closes) and a
whole copy is made instead. Disk: the published file, the working copy and the retired one (plus old
snapshots still held open by readers). A reader between DuckDB's open of the file and its lock
(microseconds, on a file one publication old) is the one case this cannot see.

DuckDB reuses the blocks a delete frees but never gives them back, so re-runs (every range deleted and
rewritten) grow the working copy past its live data: the full sample's warehouse went from 564 MB after
one `pmx run` to 754 MB after a second, of which 556 MB live. When a publication finds more than
COMPACT_FREE_SHARE of the working copy's file free (the file over 1.25x its live data), it first rebuilds
it (COPY FROM DATABASE into a fresh file, which takes the working copy's place while both are locked) and
publishes the compact file: readers are untouched (they read the published file, replaced by rename as
always). The cost, one more pass over the live data (22 s for those 556 MB at load average 11, against
1.3 s for a plain publication), is paid only after a fifth of the file was rewritten.

Publications are serialized by the working copy's own DuckDB lock (held read-write during the copy) and
an flock on `.<name>.pmx/lock` (first adoption of an existing published file). A crash before the rename
leaves the previous published file intact; a crash after a write but before its publication leaves the
working copy newer, published by the next unit of work.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

LOG = logging.getLogger(__name__)
STATE_DIR_SUFFIX = ".pmx"
WORKING_FILE = "working.duckdb"
RETIRED_FILE = "retired.duckdb"
CHUNK_BYTES = 1 << 20
MARKER_FILE = "published.json"
# More than this share of the working copy's file not live data (the file over 1.25x its data): compact.
COMPACT_FREE_SHARE = 0.2

# Units of work open in this process, per working path: writes inside one publish once, at its end.
_depth: dict[str, int] = {}
_dirty: set[str] = set()
_guard = threading.Lock()


def state_dir(published: Path) -> Path:
    """`.<name>.pmx/` beside the published file: the working copy, the lock, the publication marker."""
    return published.parent / f".{published.name}{STATE_DIR_SUFFIX}"


def working_path(published: Path) -> Path:
    """Where the pipeline reads and writes (never opened by users)."""
    return state_dir(published) / WORKING_FILE


@contextlib.contextmanager
def _flock(published: Path) -> Iterator[None]:
    folder = state_dir(published)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _identity(path: Path) -> dict[str, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return {"inode": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _marker(published: Path) -> dict | None:
    path = state_dir(published) / MARKER_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _write_marker(published: Path) -> None:
    path = state_dir(published) / MARKER_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_identity(published)))
    os.replace(tmp, path)


def _copy_durably(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_working_copy(published: Path, connect: Callable[..., duckdb.DuckDBPyConnection]) -> Path:
    """The working copy, created from the published file the first time (a warehouse written in place
    by an earlier version, or a file a user put there); `connect(path, read_only)` waits out locks."""
    working = working_path(published)
    if working.exists():
        return working
    with _flock(published):
        if working.exists():
            return working
        if published.exists():
            wal = Path(f"{published}.wal")
            # A file with a WAL (written in place, not closed cleanly) is checkpointed first: its bytes
            # alone are not the committed state. Otherwise a read-only open keeps writers out meanwhile.
            con = connect(published, read_only=not wal.exists())
            try:
                if wal.exists():
                    con.execute("CHECKPOINT")
                tmp = working.with_suffix(f".{os.getpid()}.tmp")
                _copy_durably(published, tmp)
                os.replace(tmp, working)
            finally:
                con.close()
            _write_marker(published)
    return working


def publish(published: Path, connect: Callable[..., duckdb.DuckDBPyConnection]) -> float:
    """Bring the published path to the working copy's committed state atomically; seconds taken."""
    started = time.perf_counter()
    working = working_path(published)
    if not working.exists():
        return 0.0
    with _flock(published):
        con = connect(working, read_only=False)  # exclusive: no writer changes it while it is copied
        try:
            con.execute("CHECKPOINT")
            if free_share(con, working) > COMPACT_FREE_SHARE:
                con = _compact(working, con, connect)
            _set_aside_foreign(published)
            written = _install(working, published)
            _write_marker(published)
        finally:
            con.close()
    seconds = time.perf_counter() - started
    LOG.info(
        "published %s (%.1f MB, %.1f MB written) in %.2f s",
        published,
        published.stat().st_size / 1e6,
        written / 1e6,
        seconds,
    )
    return seconds


def _install(working: Path, published: Path) -> int:
    """A file holding the working copy's bytes renamed over `published` (the retired file refreshed
    where no reader holds it, else a whole copy); the replaced inode becomes the retired file. Bytes
    written."""
    folder = state_dir(published)
    for stale in folder.glob("publish-*.tmp"):  # a publication that died before its rename
        stale.unlink(missing_ok=True)
    retired, fresh = folder / RETIRED_FILE, folder / f"publish-{os.getpid()}.tmp"
    current = _identity(published)
    written = None
    if _identity(retired) is not None:
        # Never refresh the inode users open (a publication that died between its link and its rename).
        if current is None or _identity(retired)["inode"] != current["inode"]:
            written = _refresh_unheld(retired, working)
        if written is None:
            retired.unlink()  # a reader holds it (or it is the published inode): it keeps its snapshot
        else:
            os.replace(retired, fresh)
    if written is None:
        _copy_durably(working, fresh)
        written = fresh.stat().st_size
    if current is not None:
        os.link(published, retired)
    os.replace(fresh, published)
    _fsync_dir(published.parent)
    _fsync_dir(folder)
    return written


def _refresh_unheld(target: Path, source: Path) -> int | None:
    """Make `target` byte-identical to `source`, writing only the chunks that differ, and fsync it;
    bytes written. None, untouched, when any connection has `target` open (its DuckDB lock)."""
    if _OFD_SETLK is None:  # not Linux: no lock that sees this process's own connections
        return None
    fd = os.open(target, os.O_RDWR)
    try:
        try:
            fcntl.fcntl(fd, _OFD_SETLK, _OFD_WRITE_LOCK)
        except OSError:
            return None
        size = source.stat().st_size
        os.ftruncate(fd, size)
        ours, theirs = bytearray(CHUNK_BYTES), bytearray(CHUNK_BYTES)
        written = offset = 0
        with open(source, "rb", buffering=0) as src:
            while offset < size:
                n = src.readinto(ours)
                if not n:
                    break
                m = os.preadv(fd, [theirs], offset)
                same = ours == theirs if n == m == CHUNK_BYTES else ours[:n] == theirs[:m]
                if not same:
                    _write_all(fd, memoryview(ours)[:n], offset)
                    written += n
                offset += n
        os.fsync(fd)
        return written
    finally:
        os.close(fd)  # releases the lock


# struct flock for an exclusive lock on the whole file (l_type, l_whence, l_start, l_len, l_pid = 0).
_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", None)
_OFD_WRITE_LOCK = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while len(data):
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def free_share(con: duckdb.DuckDBPyConnection, path: Path) -> float:
    """The share of the database file at `path` (connected by `con`, checkpointed) not holding live data:
    1 - used blocks x block size / file size (free blocks at the file's end are not on disk)."""
    used, block = con.execute(
        "SELECT used_blocks, block_size FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchall()[0]
    size = path.stat().st_size
    return max(0.0, 1.0 - used * block / size) if size else 0.0


def _compact(
    working: Path, con: duckdb.DuckDBPyConnection, connect: Callable[..., duckdb.DuckDBPyConnection]
) -> duckdb.DuckDBPyConnection:
    """Rebuild the working copy (held by `con`, checkpointed) into a fresh file holding only its live data
    and put it in the working copy's place; returns a read-write connection to it. The fresh file is locked
    before the rename, so no other process writes either file meanwhile."""
    fresh = working.with_name(f"compact-{os.getpid()}.tmp")
    fresh.unlink(missing_ok=True)
    before = working.stat().st_size
    started = time.perf_counter()
    database = con.execute("SELECT current_database()").fetchall()[0][0]
    quoted = str(fresh).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS pmx_compact")
    try:
        con.execute(f'COPY FROM DATABASE "{database}" TO pmx_compact')
    except BaseException:
        con.execute("DETACH pmx_compact")
        fresh.unlink(missing_ok=True)
        raise
    con.execute("DETACH pmx_compact")
    try:
        compact = connect(fresh, read_only=False)
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    try:
        fd = os.open(fresh, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(fresh, working)
        _fsync_dir(working.parent)
    except BaseException:
        compact.close()
        fresh.unlink(missing_ok=True)
        raise
    con.close()
    LOG.info(
        "compacted %s from %.1f MB to %.1f MB in %.2f s",
        working,
        before / 1e6,
        working.stat().st_size / 1e6,
        time.perf_counter() - started,
    )
    return compact


def _set_aside_foreign(published: Path) -> None:
    """A published file changed by someone else since the last publication (written in place, restored
    from a backup) is moved aside into the state folder, never silently overwritten."""
    current, recorded = _identity(published), _marker(published)
    wal = Path(f"{published}.wal")
    if current is None or (current == recorded and not wal.exists()):
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    aside = state_dir(published) / f"replaced-{stamp}.duckdb"
    os.replace(published, aside)
    if wal.exists():
        os.replace(wal, Path(f"{aside}.wal"))
    LOG.warning("%s was changed outside pmx since its last publication; kept as %s", published, aside)


@contextlib.contextmanager
def unit_of_work(published: Path, connect: Callable[..., duckdb.DuckDBPyConnection]) -> Iterator[None]:
    """Writes inside (in this process) are published once, when the outermost unit ends (also on an
    error: what was committed is committed)."""
    key = str(working_path(published))
    with _guard:
        _depth[key] = _depth.get(key, 0) + 1
    try:
        yield
    finally:
        with _guard:
            _depth[key] -= 1
            outermost = _depth[key] == 0
            due = outermost and key in _dirty
            if outermost:
                del _depth[key]
                _dirty.discard(key)
        if due:
            publish(published, connect)


def wrote(published: Path, connect: Callable[..., duckdb.DuckDBPyConnection]) -> None:
    """Record a committed write: published now outside any unit of work, else when the unit ends."""
    key = str(working_path(published))
    with _guard:
        batched = _depth.get(key, 0) > 0
        if batched:
            _dirty.add(key)
    if not batched:
        publish(published, connect)
