"""The journal of live orders (migration 6): what makes a real order survive a crash.

An order that leaves the process is written here as `sent`, under the client order id the
exchange is given, and committed before it is sent. Its fill resolves it in the fill's own
transaction (`Ledger.record_fill`), a refusal as `rejected`, and a lookup that finds nothing
on the exchange as `not_placed`. So after a kill -9 at any moment an order is either in the
ledger with its fill, or still `sent`: the next start asks the exchange about it by its
client id instead of guessing. A mixin of `storage.ledger.Ledger` (its connection, its scope).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite

from storage.db import serialized
from storage.records import Scope

RESOLVED = ("rejected", "not_placed")  # the ends other than `filled`, which record_fill writes


class OrderJournal:
    conn: aiosqlite.Connection
    scope: Scope
    _write_lock: asyncio.Lock

    @serialized
    async def order_sent(self, order: Any, ts_ns: int) -> None:
        """Journal `order` (an OrderRequest with its client_id) before it is sent."""
        await self.conn.execute(
            "INSERT INTO live_orders (client_id, symbol, side, qty, source, signal_id, sent_ns, status, venue, mode, data)"
            " VALUES (?,?,?,?,?,?,?, 'sent', ?,?,?)",
            (order.client_id, order.symbol, order.side.value, order.qty, str(order.source), order.signal_id, ts_ns,
             *self.scope),
        )
        await self.conn.commit()

    @serialized
    async def order_resolved(self, client_id: str, status: str, detail: str) -> None:
        """A journaled order that ended without a fill: `rejected` by the exchange, or
        `not_placed` (the exchange has no such order, or it ended unfilled)."""
        if status not in RESOLVED:
            raise ValueError(f"an order ends {' or '.join(RESOLVED)} without a fill, not {status!r}")
        await self.conn.execute("UPDATE live_orders SET status = ?, detail = ? WHERE client_id = ? AND status = 'sent'",
                                (status, detail, client_id))
        await self.conn.commit()

    async def unresolved_orders(self) -> list[dict[str, Any]]:
        """This scope's orders still `sent`: sent, and not known to have filled or not."""
        async with self.conn.execute(
            "SELECT * FROM live_orders WHERE status = 'sent' AND venue = ? AND mode = ? AND data = ? ORDER BY sent_ns",
            self.scope,
        ) as cur:
            return [dict(r) for r in await cur.fetchall()]
