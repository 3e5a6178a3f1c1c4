"""`tickdesk db stats` and `tickdesk db vacuum`: what the ledger holds and reclaiming space
(storage/maintenance.py does the SQL). Stats open the ledger read-only, so they work while
a session runs; vacuum runs under the workspace lock (cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite

from storage.db import open_db
from storage.maintenance import db_stats, newest_signal_ns, prune_decisions, vacuum


async def ledger_stats(path: Path) -> dict[str, Any]:
    async with aiosqlite.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return await db_stats(conn, path)


async def prune_and_vacuum(path: Path, retention_s: float) -> dict[str, Any]:
    """Delete decisions older than `retention_s` before the newest one that nothing needs,
    then VACUUM; returns the sizes before and after and how many decisions went."""
    conn = await open_db(path)
    try:
        before = await db_stats(conn, path)
        newest = await newest_signal_ns(conn)
        pruned = 0 if newest is None else await prune_decisions(conn, newest - int(retention_s * 1e9))
        await vacuum(conn)
        after = await db_stats(conn, path)
    finally:
        await conn.close()
    return {"pruned_decisions": pruned, "retention_s": retention_s, "before": before, "after": after}


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def format_stats(s: dict[str, Any]) -> str:
    lines = [f"{s['path']}  schema v{s['schema_version']}",
             f"file {_mb(s['file_bytes'])}  wal {_mb(s['wal_bytes'])}  free {_mb(s['free_bytes'])}"]
    lines += [f"  {table:<18} {rows:>12,} rows" for table, rows in s["rows"].items()]
    return "\n".join(lines)


def format_vacuum(r: dict[str, Any]) -> str:
    b, a = r["before"], r["after"]
    return (f"pruned {r['pruned_decisions']:,} decisions older than {r['retention_s']:,.0f} s that nothing needs;"
            f" file {_mb(b['file_bytes'] + b['wal_bytes'])} -> {_mb(a['file_bytes'] + a['wal_bytes'])}")
