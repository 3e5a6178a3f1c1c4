"""Typed confirmation before live orders are enabled: the trader types LIVE and Enter.

Escape leaves the session running with orders refused, never silently on paper instead."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

WORD = "LIVE"


class ConfirmLiveOrders(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "refuse", "Keep orders off", id="live.refuse")]

    def __init__(self, exchange: str) -> None:
        super().__init__()
        self.exchange = exchange

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-live"):
            yield Label(f"Live orders on {self.exchange}", id="confirm-title")
            yield Static(f"b/s/c and auto-trading will send REAL orders with real money.\n"
                         f"Type {WORD} and press Enter to enable them; Esc keeps orders off.")
            yield Input(placeholder=WORD, id="confirm-input")
            yield Static("", id="confirm-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == WORD:
            self.dismiss(True)
        else:
            self.query_one("#confirm-error", Static).update(f"type {WORD} exactly, or Esc")

    def action_refuse(self) -> None:
        self.dismiss(False)
