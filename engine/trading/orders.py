"""Order flow: submit and close at market, durable in the ledger before the portfolio shows it.

Every fill goes through one path, whoever sends the order (the trader's ticket, the models, a
risk rule): it is checked, filled (by the executor against the book, or by the bar fill
model on a market that has bars and no book), planned by the portfolio, written to the
ledger in one transaction with the opening signal's link, and only then applied. What
happens around it (linking the signal for learning, bookkeeping of closed trades) is given
to the service as callbacks, so it runs and tests without a market loop, a model or a UI.

On a bars-only market an order cannot fill when it is sent: the decision was taken on the
bar that just closed, and the first price it can trade at is the next bar's open. `submit`
then queues it (one order per symbol) and returns a `QueuedOrder` at once, so nothing waits
for a bar inside the event loop; the next bar of the symbol fills it through the same path
(`after_event`). A queued order is not a fill: it is held in memory and acknowledged as
"queued", and only its fill, once in the ledger, is shown as one.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Protocol

from engine.config import Settings
from engine.core.clock import EventClock
from engine.core.enums import Side, Source
from engine.core.events import BarEvent, Event
from engine.decision.signal import Signal
from engine.market.book import OrderBook
from engine.market.state import MarketState
from engine.trading.bar_fills import BAR_OPEN, BarFills
from engine.trading.journal import JournaledExecutor, JournaledOrders
from engine.trading.paper import EXCHANGE_FILL, OrderRejected, OrderRequest, PaperExecutor, QueuedOrder
from engine.trading.portfolio import ClosedTrade, Fill, FillPlan, Portfolio, Position
from engine.trading.risk import bar_exit, exit_reason
from storage.ledger import Ledger


class Executor(Protocol):
    """Turns an order into a fill: on paper against the book, or on the exchange."""

    async def execute(self, order: OrderRequest, book: OrderBook, ts_ns: int) -> Fill: ...

    async def close(self) -> None: ...


EntrySignal = Callable[[str, Side, Source, int], Signal]
class OrderService(JournaledOrders):
    def __init__(
        self,
        settings: Settings,
        market: MarketState,
        portfolio: Portfolio,
        executor: Executor,
        ledger: Callable[[], Ledger | None],
        clock: EventClock,
        venue: str,
        *,
        entry_signal: EntrySignal,
        persist_signal: Callable[[Signal], Awaitable[None]],
        on_opened: Callable[[Position, Signal], None],
        on_closed: Callable[[ClosedTrade], Awaitable[None]],
        note: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.market = market
        self.portfolio = portfolio
        self.executor = executor
        self._ledger = ledger
        self.clock = clock
        self.venue = venue
        self._entry_signal = entry_signal
        self._persist_signal = persist_signal
        self._on_opened = on_opened
        self._on_closed = on_closed
        self._note = note
        self.confirmed = True  # live orders stay refused until the trader confirms them
        self.opened = 0
        self._lock = asyncio.Lock()
        # Bars are a paper model: with live orders a bars-only symbol stays refused.
        self.bar_fills = (BarFills(settings.trading.bar_spread_bp, settings.trading.taker_fee)
                          if isinstance(executor, PaperExecutor) else None)
        self.pending: dict[str, QueuedOrder] = {}
        # live orders sent whose state is unknown, by symbol: asked about again before the next
        self.unresolved: dict[str, tuple[OrderRequest, Signal | None]] = {}
        self._asking = asyncio.Lock()
        self.fills_by_model: dict[str, int] = {}
        self._bar_symbols: set[str] = set()

    def on_bars(self, symbol: str) -> bool:
        """True while `symbol` is filled on bars: bars have arrived, it has no book, and
        orders are paper (the bar model is a paper model; live orders need a book)."""
        return symbol in self._bar_symbols and self.market[symbol].book.is_empty and self.bar_fills is not None

    def fill_model(self) -> dict[str, object]:
        """The fill models in force, how many fills of this session used each, and how many
        orders are still queued for a bar (at the end of a replay: never filled)."""
        if self.bar_fills is None:
            described: dict[str, object] = {"book": f"{EXCHANGE_FILL}: the fills the exchange reports",
                                            "bars": "refused: live orders need a book"}
        else:
            described = self.bar_fills.describe()
        return {**described, "fills": dict(self.fills_by_model), "queued": len(self.pending)}

    async def submit(self, side: Side, symbol: str, qty: float | None = None,
                     source: Source = Source.MANUAL, signal: Signal | None = None) -> FillPlan | QueuedOrder:
        """Fill a market order; durable in the ledger before it becomes visible. On a
        bars-only market, queue it for the next bar's open and return the QueuedOrder.

        Raises OrderRejected with a reason the trader can read."""
        if symbol not in self.market.by_symbol:
            raise OrderRejected(f"unknown symbol {symbol}")
        qty = self.settings.order_qty_for(symbol) if qty is None else qty
        if self._ledger() is None:
            raise OrderRejected("engine is not started")
        if not self.confirmed:
            raise OrderRejected("live orders are not confirmed yet")
        if symbol in self._bar_symbols and self.bar_fills is None and self.market[symbol].book.is_empty:
            raise OrderRejected(f"no order book for {symbol}: fills on bars are paper only")
        if symbol in self.unresolved:
            await self._ask_again(symbol)
        async with self._lock:
            if symbol in self.pending:  # checked under the lock: two senders cannot both queue
                raise OrderRejected(f"an order for {symbol} is already queued for the next bar")
            on_bars = self.on_bars(symbol)
            if on_bars and not (math.isfinite(qty) and qty > 0):
                raise OrderRejected(f"order size must be > 0, got {qty!r}")
            now = self.clock.now_ns()
            pos = self.portfolio.position(symbol)
            opens = self._opens(symbol, side, qty)
            if opens and signal is None:
                signal = self._entry_signal(symbol, side, source, now)
            signal = signal if opens else None
            order = OrderRequest(symbol, side, qty, source, signal.id if signal else None)
            if on_bars:
                return self._queue(QueuedOrder(order, signal, opens, pos.id if pos else None, now))
            fill = await self._execute(order, signal, now)
            plan = await self._commit(fill, opens, signal)
        await self._settled(plan, opens, signal)
        return plan

    def _opens(self, symbol: str, side: Side, qty: float) -> bool:
        """Whether an order opens a position (from flat, or by reversing a smaller one)."""
        pos = self.portfolio.position(symbol)
        return pos is None or (pos.side is not side and qty > pos.qty)

    async def _execute(self, order: OrderRequest, signal: Signal | None, now: int) -> Fill:
        """The executor's fill (the caller holds the lock); a live order is journaled first."""
        if isinstance(self.executor, JournaledExecutor):
            return await self._execute_journaled(order, signal, now)
        return await self.executor.execute(order, self.market[order.symbol].book, now)

    def _check_notional(self, symbol: str, side: Side, qty: float, price: float | None) -> None:
        pos = self.portfolio.position(symbol)
        after = qty if pos is None else (pos.qty + qty if pos.side is side else abs(qty - pos.qty))
        limit = self.settings.trading.max_position_notional
        if price is not None and after * price > limit:
            raise OrderRejected(f"position would be {after * price:,.0f} {symbol.split('/')[1]},"
                                f" over max_position_notional {limit:,.0f}")

    def _queue(self, queued: QueuedOrder) -> QueuedOrder:
        order = queued.order
        self.pending[order.symbol] = queued
        if order.source is Source.MANUAL:
            self._note(f"{order.side.value.upper()} {order.qty:g} {order.symbol}: {queued.message}")
        return queued

    async def _commit(self, fill: Fill, opens: bool, signal: Signal | None) -> FillPlan:
        """Plan, persist, apply one fill (the caller holds the lock)."""
        plan = self.portfolio.plan_fill(fill)
        if fill.client_id is None and plan.after is not None:  # a live fill was checked before it was sent
            self._check_notional(fill.symbol, fill.side, fill.qty, fill.price)
        link = None
        if opens and signal is not None:
            await self._persist_signal(signal)
            link = (signal.id, signal.contributions)
        await self._ledger().record_fill(plan, self.venue, link)
        self.portfolio.apply(plan)
        self.fills_by_model[fill.fill_model] = self.fills_by_model.get(fill.fill_model, 0) + 1
        return plan

    async def _settled(self, plan: FillPlan, opens: bool, signal: Signal | None) -> None:
        """What follows a durable fill, outside the lock: learning links, closed trades."""
        if opens:
            self.opened += 1
            if signal is not None and plan.after is not None:
                self._on_opened(plan.after, signal)
        if plan.closed is not None:
            await self._on_closed(plan.closed)

    async def close_position(self, symbol: str, source: Source = Source.MANUAL) -> FillPlan | QueuedOrder:
        pos = self.portfolio.position(symbol)
        if pos is None:
            raise OrderRejected(f"no open {symbol} position")
        return await self.submit(pos.side.opposite, symbol, pos.qty, source)

    async def after_event(self, event: Event) -> None:
        """The order work one market event brings: a bar fills its symbol's queued order and
        checks the position's bands on its range; any other event of a symbol with a book
        checks the bands on the mark."""
        symbol = getattr(event, "symbol", None)
        if isinstance(event, BarEvent):
            self._bar_symbols.add(event.symbol)
            await self.on_bar(event)
        if symbol in self.portfolio.positions and not self.on_bars(symbol):
            await self.enforce_risk(symbol)

    async def on_bar(self, bar: BarEvent) -> None:
        """Fill the symbol's queued order at this bar's open (a bar that opened before the
        order was sent is the one it was decided on, and is skipped), then check the open
        position against this bar's range; a bar that opened before the position did holds
        prices from before it and is not used."""
        queued = self.pending.get(bar.symbol)
        if queued is not None and bar.ts_ns >= queued.placed_ns:
            del self.pending[bar.symbol]
            await self._bar_fill(queued.order, bar.open, bar.ts_ns, BAR_OPEN, queued.position_id,
                                 queued.opens, queued.signal)
        pos = self.portfolio.position(bar.symbol)
        if pos is None or bar.ts_ns < pos.opened_ns or not self.on_bars(bar.symbol) or bar.symbol in self.pending:
            return
        touched = bar_exit(pos, bar, self.settings.risk)
        if touched is not None:
            # a gap fills at the open, when the bar opened; a touch inside the range is known
            # only at the bar's close, so it is stamped then
            at = bar.ts_ns if touched.fill_model == BAR_OPEN else self.clock.now_ns()
            order = OrderRequest(bar.symbol, pos.side.opposite, pos.qty, Source.RULE)
            if await self._bar_fill(order, touched.reference, at, touched.fill_model, pos.id):
                self._note(f"{bar.symbol} position closed by {touched.reason}")
            return
        reason = exit_reason(pos, bar.close, self.clock.now_ns(), self.settings.risk)
        if reason is not None:  # only max hold is left: a close at market, so at the next open
            try:
                await self.close_position(bar.symbol, source=Source.RULE)
                self._note(f"{bar.symbol} {reason}: close queued for the next bar's open")
            except OrderRejected as exc:
                self._note(f"{bar.symbol} {reason} close refused: {exc}")

    async def _bar_fill(self, order: OrderRequest, reference: float, ts_ns: int, model: str,
                        position_id: str | None, opens: bool = False, signal: Signal | None = None) -> FillPlan | None:
        """Fill `order` on the bar model at `reference`, through the same plan -> ledger ->
        apply path as every fill, if the symbol's position is still the one the order was
        sent against. A refusal is noted, not raised: it happens on a later event than the
        one that sent the order, and nobody is waiting on it."""
        what = f"{order.source} {order.side.value} {order.qty:g} {order.symbol}"
        async with self._lock:
            pos = self.portfolio.position(order.symbol)
            if (pos.id if pos else None) != position_id:
                self._note(f"{what} dropped: the position changed before the bar")
                return None
            try:
                plan = await self._commit(self.bar_fills.fill(order, reference, ts_ns, model), opens, signal)
            except OrderRejected as exc:
                self._note(f"{what} refused at the bar: {exc}")
                return None
        await self._settled(plan, opens, signal)
        return plan

    async def enforce_risk(self, symbol: str) -> None:
        """Close the position by rule when the mark crosses its stop-loss or take-profit, or
        it was held too long; the trader sees why in the status messages."""
        pos = self.portfolio.position(symbol)
        mark = self.market[symbol].mid
        if pos is None or mark is None:
            return
        reason = exit_reason(pos, mark, self.clock.now_ns(), self.settings.risk)
        if reason is None:
            return
        try:
            await self.close_position(symbol, source=Source.RULE)
            self._note(f"{symbol} position closed by {reason}")
        except OrderRejected as exc:
            self._note(f"{symbol} {reason} close refused: {exc}")
