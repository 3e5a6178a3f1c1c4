"""Order flow: submit and close at market, durable in the ledger before the portfolio shows it.

Every order goes through `OrderService.submit`, whoever sends it (the trader's ticket, the
models, a risk rule): it is checked, filled by the executor (paper by default), planned by the
portfolio, written to the ledger in one transaction with the opening signal's link, and only
then applied. What happens around it (linking the signal for learning, bookkeeping of
closed trades) is given to the service as callbacks, so it runs and tests without a market
loop, a model or a UI.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from engine.config import Settings
from engine.core.clock import EventClock
from engine.core.enums import Side, Source
from engine.decision.signal import Signal
from engine.market.book import OrderBook
from engine.market.state import MarketState
from engine.trading.paper import OrderRejected, OrderRequest
from engine.trading.portfolio import ClosedTrade, Fill, FillPlan, Portfolio, Position
from engine.trading.risk import exit_reason
from storage.ledger import Ledger


class Executor(Protocol):
    """Turns an order into a fill: on paper against the book, or on the exchange."""

    async def execute(self, order: OrderRequest, book: OrderBook, ts_ns: int) -> Fill: ...

    async def close(self) -> None: ...


EntrySignal = Callable[[str, Side, Source, int], Signal]


class OrderService:
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

    async def submit(self, side: Side, symbol: str, qty: float | None = None,
                     source: Source = Source.MANUAL, signal: Signal | None = None) -> FillPlan:
        """Fill a market order; durable in the ledger before it becomes visible.

        Raises OrderRejected with a reason the trader can read."""
        if symbol not in self.market.by_symbol:
            raise OrderRejected(f"unknown symbol {symbol}")
        qty = self.settings.order_qty_for(symbol) if qty is None else qty
        ledger = self._ledger()
        if ledger is None:
            raise OrderRejected("engine is not started")
        if not self.confirmed:
            raise OrderRejected("live orders are not confirmed yet")
        async with self._lock:
            now = self.clock.now_ns()
            pos = self.portfolio.position(symbol)
            opens = pos is None or (pos.side is not side and qty > pos.qty)
            if opens and signal is None:
                signal = self._entry_signal(symbol, side, source, now)
            order = OrderRequest(symbol, side, qty, source, signal.id if (opens and signal) else None)
            fill = await self.executor.execute(order, self.market[symbol].book, now)
            plan = self.portfolio.plan_fill(fill)
            limit = self.settings.trading.max_position_notional
            if plan.after is not None and plan.after.qty * fill.price > limit:
                raise OrderRejected(f"position would be {plan.after.qty * fill.price:,.0f} {symbol.split('/')[1]},"
                                    f" over max_position_notional {limit:,.0f}")
            link = None
            if opens and signal is not None:
                await self._persist_signal(signal)
                link = (signal.id, signal.contributions)
            await ledger.record_fill(plan, self.venue, link)
            self.portfolio.apply(plan)
        if opens:
            self.opened += 1
            if signal is not None and plan.after is not None:
                self._on_opened(plan.after, signal)
        if plan.closed is not None:
            await self._on_closed(plan.closed)
        return plan

    async def close_position(self, symbol: str, source: Source = Source.MANUAL) -> FillPlan:
        pos = self.portfolio.position(symbol)
        if pos is None:
            raise OrderRejected(f"no open {symbol} position")
        return await self.submit(pos.side.opposite, symbol, pos.qty, source)

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
