"""Opening the database: WAL, foreign keys, and forward-only migrations."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import aiosqlite

from storage.schema import MIGRATIONS

log = logging.getLogger(__name__)


class SchemaTooNew(RuntimeError):
    """The file was written by a newer tickdesk; refuse rather than corrupt it."""


async def open_db(path: Path | str) -> aiosqlite.Connection:
    """Open (creating if needed) and migrate. `:memory:` works for tests."""
    if str(path) != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        make_private(Path(path).expanduser())
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
