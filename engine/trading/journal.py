"""Live orders journaled in the ledger, so none is lost or sent twice across a crash.

A real order leaves the process: between sending it and recording its fill, the answer can
be lost (a timeout, a 5xx, whose outcome Binance documents as unknown) or the process can
die. So every live order is written to the ledger's journal (storage/order_journal.py)
under a fresh client order id before it is sent, and its fill resolves it in the fill's own
transaction. An order whose answer was lost is asked for at the exchange by that id; one
the exchange cannot be asked about blocks its symbol until a lookup settles it; a start
settles every order the last run left sent (`reconcile`). Paper orders never come here.

`JournaledOrders` is a part of `OrderService` (engine/trading/orders.py), kept apart so the
order flow reads on its own; it uses the service's lock, portfolio, ledger and fill path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol, runtime_checkable

from engine.core.enums import Side, Source
from engine.decision.signal import Signal
from engine.market.book import OrderBook
from engine.market.state import MarketState
from engine.trading.paper import OrderRejected, OrderRequest, OrderUnknown
from engine.trading.portfolio import Fill, Portfolio
from storage.ledger import Ledger

@runtime_checkable
class JournaledExecutor(Protocol):
    """An executor whose orders leave the process (live): each is journaled in the ledger
    under its client id before it is sent, and can be looked up by it when its answer is
    lost or the process died before recording it (storage/order_journal.py)."""

    async def execute(self, order: OrderRequest, book: OrderBook, ts_ns: int) -> Fill: ...

    async def lookup(self, order: OrderRequest, touch: float | None = None) -> Fill | None: ...

    async def close(self) -> None: ...


class JournaledOrders:
    """The journaling part of OrderService; the fill path (`_commit`, `_settled`), `_opens`
    and `_check_notional` are the service's own."""

    executor: JournaledExecutor
    market: MarketState
    portfolio: Portfolio
    unresolved: dict[str, tuple[OrderRequest, Signal | None]]
    _lock: asyncio.Lock
    _asking: asyncio.Lock
    _ledger: Callable[[], Ledger | None]
    _persist_signal: Callable[[Signal], Awaitable[None]]

    async def _execute_journaled(self, order: OrderRequest, signal: Signal | None, now: int) -> Fill:
        """Journal the order under a fresh client id, with the signal it opens stored (so a
        start after a crash can find the order and link its position), then send it; one the
        exchange refuses is marked so; one whose state is unknown stays sent, and its symbol
        takes no new order until a lookup settles it (the caller holds the lock)."""
        book = self.market[order.symbol].book
        self._check_notional(order.symbol, order.side, order.qty, book.mid)  # a real fill is never refused after
        order = replace(order, client_id=f"td-{uuid.uuid4().hex[:24]}")
        if signal is not None:
            await self._persist_signal(signal)
        await self._ledger().order_sent(order, now)
        try:
            return await self.executor.execute(order, book, now)
        except OrderUnknown:
            self.unresolved[order.symbol] = (order, signal)
            raise
        except OrderRejected as exc:
            await self._ledger().order_resolved(order.client_id, "rejected", str(exc))
            raise
        except Exception as exc:  # sent, and the answer could not be read: as good as lost
            self.unresolved[order.symbol] = (order, signal)
            raise OrderUnknown(f"order {order.client_id} on {order.symbol}: its state is unknown"
                               f" ({type(exc).__name__}: {exc})") from exc

    async def _ask_again(self, symbol: str) -> None:
        """The last order on `symbol` went unanswered: settle it before another is sent. If
        it did fill, the new order is refused with what happened (it was most likely sent
        again because the first looked lost; sending it would double the position)."""
        async with self._asking:  # one lookup at a time: two senders must not record one fill twice
            if symbol not in self.unresolved:
                return  # settled by the sender before this one
            order, signal = self.unresolved[symbol]
            try:
                filled, said = await self._settle_journaled(order, signal)
            except OrderUnknown as exc:
                raise OrderRejected(f"{exc}; no new {symbol} order until it is known") from None
            del self.unresolved[symbol]
        if filled:
            raise OrderRejected(f"the earlier {said}; this one was not sent")

    async def _settle_journaled(self, order: OrderRequest, signal: Signal | None) -> tuple[bool, str]:
        """Ask the exchange for a journaled order; record its fill through the one fill path,
        or mark it not placed. Returns (filled, what happened); raises OrderUnknown if the
        exchange cannot say."""
        fill = await self.executor.lookup(order)
        if fill is None:
            await self._ledger().order_resolved(order.client_id, "not_placed", "the exchange has no fill for it")
            return False, f"order {order.client_id} ({order.side.value} {order.qty:g} {order.symbol}) was not placed"
        async with self._lock:
            opens = self._opens(order.symbol, order.side, fill.qty)
            signal = signal if opens else None  # a close links no signal
            plan = await self._commit(fill, opens, signal)
        await self._settled(plan, opens, signal)
        return True, (f"order {order.client_id} ({order.side.value} {fill.qty:g} {order.symbol}) filled at"
                      f" {fill.price:g} on the exchange: recorded")

    async def reconcile(self, load_signal: Callable[[str], Awaitable[Signal | None]]) -> list[str]:
        """Settle the live orders the last run left sent (it died between sending one and
        recording its fill): each is asked for by its client id, recorded if it filled
        (linked to the signal stored before it was sent), marked not placed if it did not.
        One the exchange cannot be asked about stays sent and blocks its symbol. Returns a
        line per order for the trader."""
        if not isinstance(self.executor, JournaledExecutor):
            return []
        said = []
        for row in await self._ledger().unresolved_orders():
            order = OrderRequest(row["symbol"], Side(row["side"]), row["qty"], Source(row["source"]),
                                 row["signal_id"], row["client_id"])
            signal = await load_signal(row["signal_id"]) if row["signal_id"] else None
            try:
                said.append((await self._settle_journaled(order, signal))[1])
            except OrderUnknown as exc:
                self.unresolved[order.symbol] = (order, signal)
                said.append(f"{exc}: asked again before the next {order.symbol} order")
        return said
