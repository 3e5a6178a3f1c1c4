"""The top line: product, venue label (SIM / REPLAY / LIVE) with what the venue says about
itself (a SIM market names its planted edge), symbols, event-time clock, and the feed's
pace: ▶ speed, ⏸ paused, or ■ ENDED once a replay has run out; a replay's progress against
the whole span of its files."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt

VENUE_STYLE = {"SIM": "bold black on yellow", "REPLAY": "bold black on cyan", "LIVE": "bold white on red"}


class VenueHeader(Static):
    def update_from(self, snap: EngineSnapshot) -> None:
        t = self._line(snap, with_refs=True)
        # The edge and the clock matter more than the reference symbols' names: on a narrow
        # terminal the references go first, then the replay's progress shortens to its share.
        for with_refs, compact in ((False, False), (False, True)):
            if not self.size.width or t.cell_len <= self.size.width:
                break
            t = self._line(snap, with_refs=with_refs, compact=compact)
        self.update(t)

    @staticmethod
    def _line(snap: EngineSnapshot, *, with_refs: bool, compact: bool = False) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" tickdesk ", style="bold")
        badge = f"{snap.venue_label} · {snap.venue_detail}" if snap.venue_detail else snap.venue_label
        t.append(f" {badge} ", style=VENUE_STYLE.get(snap.venue_label, "reverse"))
        t.append("  ")
        t.append(snap.traded, style="bold")
        refs = [s for s in snap.symbols if s != snap.traded]
        if refs and with_refs:
            t.append(" · " + " · ".join(refs) + " (ref)", style="dim")
        t.append("  ")
        t.append(fmt.event_time(snap.event_ns))
        d = snap.desk
        if d is not None and d.feed_ended:
            t.append(f"  ■ {snap.venue_label} ENDED", style="bold black on yellow")
        elif snap.paused:
            t.append("  ⏸ PAUSED", style="bold yellow")
        else:
            speed = snap.speed if d is None else ("max" if d.speed is None else f"{d.speed:g}")
            t.append(f"  ▶ {speed}{'' if speed == 'max' else 'x'}", style="dim")
        if d is not None and d.session_s is not None and snap.venue == "replay" and not (compact and d.feed_ended):
            t.append(f"  {progress_text(d.session_s, d.total_s, d.progress, compact)}", style="dim")
        return t


def progress_text(session_s: float, total_s: float | None, progress: float | None, compact: bool = False) -> str:
    """"+3h20m of 720h00m (0.5 %)" once the replay's span is known ("0.5 % of 720h00m"
    compact), "+3h20m replayed" before."""
    if total_s is None or progress is None:
        return f"+{fmt.duration(session_s)} replayed"
    if compact:
        return f"{100 * progress:.1f} % of {fmt.duration(total_s)}"
    return f"+{fmt.duration(session_s)} of {fmt.duration(total_s)} ({100 * progress:.1f} %)"
