"""The order ticket: a modal market order with a live quote, the size in the base currency,
and a preview of notional and fee at the current touch.

Enter submits through the app (`submit` returns None when filled or queued, or the reason it
was refused); a refusal or a bad size keeps the ticket open with the reason, so nothing
typed is lost. Escape cancels. The app calls `update_quote` from its snapshot pump."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from engine.core.enums import Side
from tui import format as fmt


@dataclass(frozen=True)
class OrderTicketResult:
    side: Side
    symbol: str
    qty: float


class OrderTicket(ModalScreen[OrderTicketResult | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="ticket.cancel")]
    AUTO_FOCUS = "#ticket-qty"

    def __init__(self, side: Side, symbol: str, qty: float, bid: float | None, ask: float | None,
                 position: str | None, *, taker_fee: float = 0.0,
                 submit: Callable[[OrderTicketResult], Awaitable[str | None]] | None = None) -> None:
        super().__init__()
        self.side = side
        self.symbol = symbol
        self.default_qty = qty
        self.bid, self.ask = bid, ask
        self.position = position
        self.taker_fee = taker_fee
        self._submit = submit
        self.base = symbol.split("/")[0]
        self.quote = symbol.split("/")[1] if "/" in symbol else ""

    def compose(self) -> ComposeResult:
        verb = "BUY" if self.side is Side.BUY else "SELL"
        with Vertical(id="ticket", classes=verb.lower()):
            yield Label(f"{verb} {self.symbol} · market order (paper)", id="ticket-title")
            yield Static(self._quote_line(), id="ticket-info")
            with Horizontal(id="ticket-size"):
                yield Label(f"size ({self.base}) ", id="ticket-size-label")
                yield Input(value=f"{self.default_qty:g}", id="ticket-qty", type="number")
            yield Static(self._preview(f"{self.default_qty:g}"), id="ticket-preview")
            yield Static("", id="ticket-error")
            yield Static("Enter to confirm · Esc to cancel", id="ticket-help")

    @property
    def touch(self) -> float | None:
        return self.ask if self.side is Side.BUY else self.bid

    def _quote_line(self) -> str:
        return (f"bid {fmt.price(self.bid)} · ask {fmt.price(self.ask)}"
                f"   position {self.position or 'flat'}")

    def _preview(self, text: str) -> str:
        try:
            qty = float(text)
        except ValueError:
            return "notional —  fee —"
        px = self.touch
        if px is None or not (math.isfinite(qty) and qty > 0):
            return "notional —  fee —"
        notional = qty * px
        return (f"≈ notional {fmt.price(notional)} {self.quote} · fee {notional * self.taker_fee:.2f}"
                f" ({100 * self.taker_fee:.3g}%) at {fmt.price(px)}")

    def update_quote(self, bid: float | None, ask: float | None, position: str | None) -> None:
        """Live quote while the ticket is open (called from the app's pump)."""
        if (bid, ask, position) == (self.bid, self.ask, self.position) or not self.is_mounted:
            return
        self.bid, self.ask, self.position = bid, ask, position
        self.query_one("#ticket-info", Static).update(self._quote_line())
        self.query_one("#ticket-preview", Static).update(self._preview(self.query_one(Input).value))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#ticket-preview", Static).update(self._preview(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            qty = float(text)
        except ValueError:
            qty = math.nan
        if not (math.isfinite(qty) and qty > 0):
            self._error(f"size must be a positive number, got {text!r}")
            return
        order = OrderTicketResult(self.side, self.symbol, qty)
        if self._submit is None:
            self.dismiss(order)
        else:
            self._send(order)

    @work(exclusive=True, group="ticket", exit_on_error=False)
    async def _send(self, order: OrderTicketResult) -> None:
        self._error("")
        self.query_one("#ticket-help", Static).update("sending…")
        refused = await self._submit(order)
        if refused is None:
            self.dismiss(order)
            return
        self._error(f"order rejected: {refused}")
        self.query_one("#ticket-help", Static).update("edit the size and Enter again · Esc to cancel")

    def _error(self, text: str) -> None:
        self.query_one("#ticket-error", Static).update(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
