"""Opening the database: WAL, foreign keys, and forward-only migrations."""

from __future__ import annotations

import logging
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
