"""The order ticket: a modal that returns the confirmed quantity (or None when cancelled).

Size is prefilled from config; Enter confirms, Escape cancels. A bad size keeps the ticket
open with the reason shown, so nothing typed is lost."""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
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

    def __init__(self, side: Side, symbol: str, qty: float, bid: float | None, ask: float | None,
                 position: str | None) -> None:
        super().__init__()
        self.side = side
        self.symbol = symbol
        self.default_qty = qty
        self.bid, self.ask = bid, ask
        self.position = position

    def compose(self) -> ComposeResult:
        verb = "BUY" if self.side is Side.BUY else "SELL"
        touch = self.ask if self.side is Side.BUY else self.bid
        with Vertical(id="ticket", classes=verb.lower()):
            yield Label(f"{verb} {self.symbol} · market order (paper)", id="ticket-title")
            yield Static(f"{'ask' if self.side is Side.BUY else 'bid'} {fmt.price(touch)}"
                         f"   position {self.position or 'flat'}", id="ticket-info")
            yield Input(value=f"{self.default_qty:g}", id="ticket-qty", type="number")
            yield Static("", id="ticket-error")
            yield Static("Enter to confirm · Esc to cancel", id="ticket-help")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            qty = float(text)
        except ValueError:
            qty = math.nan
        if not (math.isfinite(qty) and qty > 0):
            self.query_one("#ticket-error", Static).update(f"size must be a positive number, got {text!r}")
            return
        self.dismiss(OrderTicketResult(self.side, self.symbol, qty))

    def action_cancel(self) -> None:
        self.dismiss(None)
