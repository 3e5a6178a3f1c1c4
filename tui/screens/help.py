"""The help screen: every binding of the main screen, with what it does."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

NOTES = (
    "Orders are paper fills against the venue's book unless --live-orders was given.\n"
    "SIM is a simulated market; REPLAY replays recorded exchange data; LIVE is real."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = bindings

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label("tickdesk · keys", id="help-title")
            table: DataTable = DataTable(show_cursor=False, id="help-keys")
            table.add_columns("key", "action")
            for key, desc in self.rows:
                table.add_row(key, desc)
            yield table
            yield Static(NOTES, id="help-notes")
            yield Static("Esc or ? to close", id="help-foot")

    def action_close(self) -> None:
        self.dismiss(None)
