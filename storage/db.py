"""Opening the database: an integrity check, WAL, foreign keys, and forward-only migrations."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import aiosqlite

from storage.schema import MIGRATIONS

log = logging.getLogger(__name__)
T = TypeVar("T")

_sound: set[tuple[str, int, int]] = set()  # (path, mtime, size) of ledgers found sound, unchanged since


class SchemaTooNew(RuntimeError):
    """The file was written by a newer tickdesk; refuse rather than corrupt it."""


class CorruptDatabase(RuntimeError):
    """The file is not an SQLite database, or some of its pages are damaged: refuse it before
    anything is read from or written to it (a copy of the file is the user's to make)."""


async def open_db(path: Path | str) -> aiosqlite.Connection:
    """Open (creating if needed) and migrate. `:memory:` works for tests."""
    if str(path) != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        make_private(Path(path).expanduser())
        await asyncio.to_thread(check_file, path)
    conn = await aiosqlite.connect(str(path))
    try:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL" if str(path) == ":memory:" else "PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await migrate(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


def make_private(path: Path) -> None:
    """Create the ledger owner-only (0600) before SQLite opens it, and tighten an existing
    one with its WAL and SHM: it holds every trade and balance. SQLite creates the WAL and
    SHM with the database file's permissions, so new ones are 0600 too."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.is_file() and file.stat().st_mode & 0o077:
                os.chmod(file, 0o600)
        except OSError:  # not ours, or a read-only file system: SQLite reports what matters
            pass


def check_file(path: Path | str) -> None:
    """`PRAGMA quick_check` on an existing ledger (every page and index entry readable; O(size),
    about a second per few hundred MB): raise CorruptDatabase with its first finding, naming
    the file. Synchronous, so the command line can check before the TUI opens; a file found
    sound and not changed since is not checked again (opening it checks too)."""
    file = Path(path).expanduser()
    if str(path) == ":memory:" or not file.exists():
        return
    st = file.stat()
    key = (str(file.resolve()), st.st_mtime_ns, st.st_size)
    if key in _sound:
        return
    try:
        conn = sqlite3.connect(str(file))
        try:
            row = conn.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        raise  # locked, read-only, ...: not corruption
    except sqlite3.DatabaseError as exc:
        raise CorruptDatabase(f"{path}: not a usable tickdesk ledger ({exc})") from None
    if row is None or row[0] != "ok":
        finding = " ".join(str(row[0]).replace("*** in database main ***", "").split()) if row else "no answer"
        raise CorruptDatabase(f"{path}: the ledger is corrupt (quick_check: {finding})")
    _sound.add(key)


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0])


async def migrate(conn: aiosqlite.Connection, migrations: tuple[str, ...] = MIGRATIONS) -> int:
    """Run the migrations the file has not seen, each in its own transaction."""
    version = await schema_version(conn)
    if version > len(migrations):
        raise SchemaTooNew(f"database schema v{version} is newer than this tickdesk (v{len(migrations)})")
    for number, script in enumerate(migrations[version:], start=version + 1):
        await conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
        log.info("database migrated to schema v%d", number)
    return len(migrations)


def serialized(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """One writer at a time: the engine's tasks share one connection, and sqlite3's
    transactions must not interleave across awaits."""

    @functools.wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        async with self._write_lock:
            return await method(self, *args, **kwargs)

    return wrapper
