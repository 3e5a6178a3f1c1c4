"""The log pane: engine and model messages newest first, filtered by what is typed in the
box above (matched against the text, the logger and the level)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Static

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt
from tui.logbuffer import LogBuffer

SHOWN = 300
LEVEL_STYLE = {"WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold red"}


class LogPane(Vertical):
    def __init__(self, buffer: LogBuffer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.buffer = buffer
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        self._filter = Input(placeholder="filter (text, logger or level)", id="log-filter")
        self._lines = Static(id="log-lines")
        yield self._filter
        with VerticalScroll(id="log-scroll"):
            yield self._lines

    def update_from(self, snap: EngineSnapshot) -> None:
        needle = self._filter.value.strip()
        key = (self.buffer.version, needle)
        if key == self._shown:
            return
        self._shown = key
        lines = self.buffer.newest_first(needle)[:SHOWN]
        t = Text(no_wrap=True, overflow="ellipsis")
        if not lines:
            t.append("no messages" + (f" matching {needle!r}" if needle else " yet"), style="dim")
        for ln in lines:
            t.append(fmt.event_time(ln.event_ns)[11:19] + " ", style="dim")
            t.append(f"{ln.source.split('.')[0]:<7} ", style="dim")
            t.append(ln.text + "\n", style=LEVEL_STYLE.get(ln.level, ""))
        self._lines.update(t)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._shown = None
        if self.app is not None and hasattr(self.app, "pump"):
            self.app.pump()
