"""The top line: product, venue label (SIM / REPLAY / LIVE), symbols and event-time clock."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt

VENUE_STYLE = {"SIM": "bold black on yellow", "REPLAY": "bold black on cyan", "LIVE": "bold white on red"}


class VenueHeader(Static):
    def update_from(self, snap: EngineSnapshot) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" tickdesk ", style="bold")
        t.append(f" {snap.venue_label} ", style=VENUE_STYLE.get(snap.venue_label, "reverse"))
        t.append("  ")
        t.append(snap.traded, style="bold")
        refs = [s for s in snap.symbols if s != snap.traded]
        if refs:
            t.append(" · " + " · ".join(refs) + " (ref)", style="dim")
        t.append("  ")
        t.append(fmt.event_time(snap.event_ns))
        if snap.paused:
            t.append("  ⏸ PAUSED", style="bold yellow")
        else:
            t.append(f"  ▶ {snap.speed}{'' if snap.speed == 'max' else 'x'}", style="dim")
        self.update(t)
