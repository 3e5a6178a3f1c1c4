"""Paper execution: market orders fill against the current book by walking its levels.

The fill price is the volume-weighted price over the levels consumed; slippage is measured
against the touch; the taker fee comes from config. An order larger than the visible depth,
a missing or crossed book, or a bad size is refused with a reason, never half-invented.

The order vocabulary the front ends see lives here too: OrderRequest, OrderRejected, and
QueuedOrder, what `Engine.submit` returns on a bars-only market (engine/trading/orders.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.market.book import OrderBook
from engine.core.enums import Side, Source
from engine.decision.signal import Signal
from engine.trading.portfolio import Fill

# Fill models (`Fill.fill_model`) of the executors; the bar models are in bar_fills.py.
BOOK_WALK = "book_walk"     # paper: the visible book walked at the order's size
EXCHANGE_FILL = "exchange"  # live: what the exchange reported
QUEUED = "order queued: fills at the next bar's open"


class OrderRejected(Exception):
    """The order cannot be filled; the message is shown to the trader as is."""


class OrderUnknown(OrderRejected):
    """A live order was sent, and whether it filled is not known: the answer was lost and the
    exchange could not be asked. It stays journaled as sent until a lookup settles it."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: Side
    qty: float
    source: Source = Source.MANUAL
    signal_id: str | None = None
    client_id: str | None = None  # live orders: journaled and sent under it (OrderService gives it)


@dataclass(frozen=True, slots=True)
class QueuedOrder:
    """An order on a bars-only market waiting for the next bar of its symbol.

    `placed_ns` is the event time it was sent: only a bar that opens then or later fills it.
    `position_id` is the position it was sent against (None when flat); if that changed
    before the bar, the order no longer means what its sender meant and is dropped."""

    order: OrderRequest
    signal: Signal | None
    opens: bool
    position_id: str | None
    placed_ns: int
    message: str = QUEUED


def walk_book(levels: np.ndarray, qty: float) -> tuple[float, float]:
    """(vwap, touch) for taking `qty` from `levels` (n, 2); raises if depth is short."""
    if levels.size == 0:
        raise OrderRejected("no liquidity on that side of the book")
    cum = np.cumsum(levels[:, 1])
    if cum[-1] + 1e-12 < qty:
        raise OrderRejected(f"order size {qty:g} exceeds visible depth {cum[-1]:g}")
    n = int(np.searchsorted(cum, qty - 1e-12)) + 1
    taken = levels[:n, 1].copy()
    taken[-1] -= cum[n - 1] - qty
    vwap = float((levels[:n, 0] * taken).sum() / qty)
    return vwap, float(levels[0, 0])


class PaperExecutor:
    """Fills on paper. `execute` is the interface the engine uses (the live executor's too)."""

    def __init__(self, taker_fee: float) -> None:
        self.taker_fee = taker_fee

    async def execute(self, order: OrderRequest, book: OrderBook, ts_ns: int) -> Fill:
        return self.fill(order, book, ts_ns)

    async def close(self) -> None:
        """Nothing to release on paper."""

    def fill(self, order: OrderRequest, book: OrderBook, ts_ns: int) -> Fill:
        if not (math.isfinite(order.qty) and order.qty > 0):
            raise OrderRejected(f"order size must be > 0, got {order.qty!r}")
        if book.is_empty:
            raise OrderRejected(f"no order book for {order.symbol} yet")
        if book.is_crossed:
            raise OrderRejected(f"{order.symbol} book is crossed; refusing to fill")
        bids, asks = book.top(depth=1000)
        price, touch = walk_book(asks if order.side is Side.BUY else bids, order.qty)
        fee = price * order.qty * self.taker_fee
        return Fill(
            ts_ns=ts_ns, symbol=order.symbol, side=order.side, qty=order.qty, price=price,
            fee=fee, slippage=abs(price - touch) * order.qty, source=order.source,
            signal_id=order.signal_id, fill_model=BOOK_WALK,
        )
