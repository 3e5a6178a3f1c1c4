"""The help screen: every key of the main screen with what it does, then what each tag,
column and reward component on screen means (tui/glossary.py)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.glossary import COLUMNS, REWARD_TERMS, TAGS

NOTES = (
    "Orders are paper fills against the venue's book unless --live-orders was given.\n"
    "SIM is a simulated market; REPLAY replays recorded exchange data; LIVE is real.\n"
    "ctrl+p opens the command palette with every command below and more."
)


def glossary() -> Text:
    t = Text()
    t.append("tags\n", style="bold")
    for tag, meaning in TAGS:
        t.append(f"  {tag:<6}", style="bold")
        t.append(meaning + "\n")
    t.append("columns\n", style="bold")
    for name, meaning in COLUMNS:
        t.append(f"  {name:<7}", style="bold")
        t.append(meaning + "\n")
    t.append("reward components\n", style="bold")
    for label, meaning in REWARD_TERMS.values():
        t.append(f"  {label:<8}", style="bold")
        t.append(meaning + "\n")
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = bindings

    def compose(self) -> ComposeResult:
        keys = Text()
        for key, desc in self.rows:
            keys.append(f"  {key:<8}", style="bold")
            keys.append(desc + "\n")
        with VerticalScroll(id="help"):
            yield Label("tickdesk · keys", id="help-title")
            yield Static(keys, id="help-keys")
            yield Static(glossary(), id="help-glossary")
            yield Static(NOTES, id="help-notes")
            yield Static("Esc or ? to close · ↑↓ to scroll", id="help-foot")

    def action_close(self) -> None:
        self.dismiss(None)
