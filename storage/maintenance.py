"""Keeping the ledger's size bounded: pruning decisions nothing needs, and the numbers and
the vacuum behind `tickdesk db stats` / `tickdesk db vacuum`.

Every decision (one per decision interval, a second by default) is a `signals` row, about
0.8 KB with its outputs: without retention that is most of the ledger's growth. A decision
is kept while anything refers to it: the position it opened or is linked to, a fill or a
closed trade, its stored state (what training reads) or its horizon labels (what the
evaluation reads). The rest are deleted once older than the retention in event time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite

# Every reference a decision can have; a signal with none of them is only history.
NEEDED = """
    SELECT signal_id FROM positions WHERE signal_id IS NOT NULL
    UNION SELECT signal_id FROM fills WHERE signal_id IS NOT NULL
    UNION SELECT signal_id FROM closed_trades WHERE signal_id IS NOT NULL
    UNION SELECT signal_id FROM signal_links
    UNION SELECT signal_id FROM signal_states
    UNION SELECT signal_id FROM horizon_outcomes"""


async def prune_decisions(conn: aiosqlite.Connection, before_ns: int) -> int:
    """Delete decisions older than `before_ns` that nothing refers to (one transaction);
    returns how many went."""
    cur = await conn.execute(f"DELETE FROM signals WHERE ts_ns < ? AND id NOT IN ({NEEDED})", (before_ns,))
    await conn.commit()
    return cur.rowcount


async def newest_signal_ns(conn: aiosqlite.Connection) -> int | None:
    async with conn.execute("SELECT MAX(ts_ns) FROM signals") as cur:
        return (await cur.fetchone())[0]


async def db_stats(conn: aiosqlite.Connection, path: Path) -> dict[str, Any]:
    """Sizes on disk (file, WAL, free pages) and row counts per table."""
    async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                            " ORDER BY name") as cur:
        tables = [r[0] for r in await cur.fetchall()]
    rows = {}
    for table in tables:
        async with conn.execute(f'SELECT COUNT(*) FROM "{table}"') as cur:
            rows[table] = (await cur.fetchone())[0]
    pragmas = {}
    for name in ("page_size", "page_count", "freelist_count", "user_version"):
        async with conn.execute(f"PRAGMA {name}") as cur:
            pragmas[name] = (await cur.fetchone())[0]
    wal = path.with_name(path.name + "-wal")
    return {
        "path": str(path),
        "file_bytes": path.stat().st_size,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "free_bytes": pragmas["freelist_count"] * pragmas["page_size"],
        "schema_version": pragmas["user_version"],
        "rows": rows,
    }


async def vacuum(conn: aiosqlite.Connection) -> None:
    """Give the free pages back to the file system and empty the WAL."""
    await conn.execute("VACUUM")
    await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
