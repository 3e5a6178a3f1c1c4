"""Paper portfolio: quote balance and one net position per symbol, long or short.

Fills are planned first (`plan_fill`, pure) and applied after the plan is durable
(`apply`): the executor writes the plan to SQLite in between, so nothing the UI shows can be
lost by a crash. A position's life, flat -> open -> flat, is one closed trade; a fill that
flips the side closes the old position and opens a new one.
"""

from __future__ import annotations

import itertools
import math
import uuid
from dataclasses import dataclass, field, replace

from engine.core.enums import Side, Source
from engine.core.events import InvalidEvent, check_price, check_qty
from engine.core.units import NS_PER_S
from engine.features.builder import PositionInfo

QTY_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class Fill:
    ts_ns: int
    symbol: str
    side: Side
    qty: float
    price: float          # volume-weighted fill price
    fee: float            # in quote currency
    slippage: float       # |price - touch| * qty, in quote currency
    source: Source        # who sent the order
    signal_id: str | None = None
    order_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # How the price was obtained (engine/trading/fill_model.py: book_walk, exchange, bar_...),
    # required: a backtest's figures mean little unless every fill says what it assumed.
    fill_model: str = field(kw_only=True)
    # The client order id a live order was journaled and sent under (storage/order_journal.py).
    client_id: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class Position:
    id: str
    symbol: str
    side: Side
    qty: float
    entry_price: float     # volume-weighted over the fills that built it
    opened_ns: int
    source: Source         # who opened it: manual | auto
    signal_id: str | None
    entry_qty: float       # total quantity ever added (for the closed-trade record)
    exit_qty: float = 0.0
    exit_value: float = 0.0  # sum of exit price * qty, for the average exit price
    fees: float = 0.0
    realized: float = 0.0    # gross realised PnL of the reductions so far

    def unrealized(self, price: float) -> float:
        return self.side.sign * (price - self.entry_price) * self.qty

    def hold_s(self, now_ns: int) -> float:
        return max(0, now_ns - self.opened_ns) / NS_PER_S


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    id: str                # the position id
    symbol: str
    side: Side
    qty: float             # total entry quantity
    entry_price: float
    exit_price: float
    entry_ns: int
    exit_ns: int
    gross_pnl: float
    fees: float
    pnl: float             # net of fees (entry and exit)
    source: Source         # who opened it (manual | auto), or RULE if a risk rule closed it
    open_source: Source
    close_source: Source
    signal_id: str | None

    @property
    def hold_s(self) -> float:
        return (self.exit_ns - self.entry_ns) / NS_PER_S

    @property
    def entry_notional(self) -> float:
        return self.qty * self.entry_price

    @property
    def return_pct(self) -> float:
        return 100.0 * self.pnl / self.entry_notional


@dataclass(frozen=True, slots=True)
class FillPlan:
    """The complete effect of one fill, computed before anything is mutated."""

    fill: Fill
    before: Position | None
    after: Position | None          # the symbol's position after the fill (None = flat)
    closed: ClosedTrade | None
    balance_after: float
    fees_after: float


_ids = itertools.count(1)


def new_position_id(ts_ns: int) -> str:
    return f"P{ts_ns // 1_000_000}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


class Portfolio:
    def __init__(self, quote_balance: float) -> None:
        self.initial_balance = check_price(quote_balance, "quote_balance")
        self.balance = self.initial_balance  # cash in quote currency, net of fees and realised PnL
        self.fees_paid = 0.0
        self.positions: dict[str, Position] = {}

    def restore(self, balance: float, fees_paid: float, positions: list[Position]) -> None:
        self.balance = balance
        self.fees_paid = fees_paid
        self.positions = {p.symbol: p for p in positions}

    def position(self, symbol: str) -> Position | None:
        return self.positions.get(symbol)

    def equity(self, prices: dict[str, float | None]) -> float:
        total = self.balance
        for p in self.positions.values():
            px = prices.get(p.symbol)
            if px is not None:
                total += p.unrealized(px)
        return total

    def plan_fill(self, fill: Fill) -> FillPlan:
        """Compute the effect of `fill` without mutating. Rejects bad prices and sizes."""
        try:
            check_price(fill.price, "fill price")
            check_qty(fill.qty, "fill qty")
            if not math.isfinite(fill.fee) or fill.fee < 0:
                raise InvalidEvent("bad_fee", f"fee={fill.fee!r}")
        except InvalidEvent as exc:
            raise ValueError(f"fill rejected: {exc}") from None
        pos = self.positions.get(fill.symbol)
        balance = self.balance - fill.fee
        fees = self.fees_paid + fill.fee
        closed: ClosedTrade | None = None
        if pos is None:
            after = Position(
                id=new_position_id(fill.ts_ns), symbol=fill.symbol, side=fill.side, qty=fill.qty,
                entry_price=fill.price, opened_ns=fill.ts_ns, source=fill.source,
                signal_id=fill.signal_id, entry_qty=fill.qty, fees=fill.fee,
            )
        elif pos.side is fill.side:
            qty = pos.qty + fill.qty
            after = replace(
                pos, qty=qty, entry_price=(pos.entry_price * pos.qty + fill.price * fill.qty) / qty,
                entry_qty=pos.entry_qty + fill.qty, fees=pos.fees + fill.fee,
            )
        else:
            reduce = min(pos.qty, fill.qty)
            gross = pos.side.sign * (fill.price - pos.entry_price) * reduce
            balance += gross
            share = reduce / fill.qty  # the part of this fill's fee that belongs to the closing
            remaining = pos.qty - reduce
            closing = replace(
                pos, qty=remaining, exit_qty=pos.exit_qty + reduce,
                exit_value=pos.exit_value + fill.price * reduce,
                fees=pos.fees + fill.fee * share, realized=pos.realized + gross,
            )
            if remaining > QTY_EPS * max(1.0, pos.qty):
                after = closing
            else:
                closed = ClosedTrade(
                    id=pos.id, symbol=pos.symbol, side=pos.side, qty=closing.entry_qty,
                    entry_price=pos.entry_price, exit_price=closing.exit_value / closing.exit_qty,
                    entry_ns=pos.opened_ns, exit_ns=fill.ts_ns, gross_pnl=closing.realized,
                    fees=closing.fees, pnl=closing.realized - closing.fees,
                    source=Source.RULE if fill.source == Source.RULE else pos.source,
                    open_source=pos.source, close_source=fill.source, signal_id=pos.signal_id,
                )
                left = fill.qty - reduce
                after = None
                if left > QTY_EPS * max(1.0, fill.qty):
                    after = Position(
                        id=new_position_id(fill.ts_ns), symbol=fill.symbol, side=fill.side, qty=left,
                        entry_price=fill.price, opened_ns=fill.ts_ns, source=fill.source,
                        signal_id=fill.signal_id, entry_qty=left, fees=fill.fee * (1.0 - share),
                    )
        return FillPlan(fill, pos, after, closed, balance, fees)

    def apply(self, plan: FillPlan) -> None:
        """Make a durable plan current."""
        if plan.after is None:
            self.positions.pop(plan.fill.symbol, None)
        else:
            self.positions[plan.fill.symbol] = plan.after
        self.balance = plan.balance_after
        self.fees_paid = plan.fees_after


def position_info(pos: Position | None, *, configured_qty: float, equity: float, start_equity: float) -> PositionInfo:
    """The position and account block of the model state for an open position (or none)."""
    if pos is None:
        return PositionInfo(configured_qty=configured_qty, equity=equity, start_equity=start_equity)
    return PositionInfo(side=pos.side.sign, qty=pos.qty, entry_price=pos.entry_price, entry_ns=pos.opened_ns,
                        configured_qty=configured_qty, equity=equity, start_equity=start_equity)
