"""The model pane: what each model says in the last decision, the blended confidence against
the auto-trading threshold, why auto is not trading when it is not, and each model's
training progress. Only what the snapshot holds is shown; a missing value is a dash."""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.widgets import Static

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt
from tui.widgets.learning import MODEL_COLORS, MODEL_LABELS, OBJECTIVES

BAR = 20  # cells of the confidence gauge


def gauge(value: float, threshold: float, width: int = BAR) -> Text:
    """A 0..1 gauge with the threshold marked: filled to the value, │ at the threshold."""
    t = Text()
    fill, mark = round(value * width), min(width - 1, round(threshold * width))
    for i in range(width):
        ch = "│" if i == mark else ("█" if i < fill else "·")
        t.append(ch, style=("bold green" if value >= threshold else "yellow") if i < fill else "dim")
    return t


class ModelPane(Static):
    def _wrapped(self, blocker: str) -> str:
        """The reason in full where the pane has rows to spare (from 12), on lines under the
        label; else one line, cut with an ellipsis (80x24 keeps the models' lines in view)."""
        width, height = self.content_size.width, self.content_size.height
        if height < 12 or width < 30:
            return blocker
        first, *rest = textwrap.wrap("why not trading: " + blocker, width) or [""]
        return "\n".join([first[len("why not trading: "):],
                          *textwrap.wrap(" ".join(rest), width, initial_indent="  ", subsequent_indent="  ")])

    def update_from(self, snap: EngineSnapshot) -> None:
        d = snap.desk.decision if snap.desk is not None else None
        t = Text(no_wrap=True, overflow="ellipsis")
        if d is None:
            self.update(Text(snap.models_status, style="dim"))
            return
        t.append(f"auto {'ON' if d.auto else 'off'}", style="bold green" if d.auto else "dim")
        if d.confidence is None:
            t.append("  no decision yet", style="dim")
        else:
            t.append(f"  last decision {str(d.action).upper()} ", style="bold")
            t.append(f"{fmt.event_time(d.ts_ns or 0)[11:19]}\n", style="dim")
            t.append("conf ")
            t.append(gauge(d.confidence, d.threshold))
            t.append(f" {d.confidence:.2f} (acts at {d.threshold:.2f})")
        t.append("\n")
        t.append("why not trading: " if d.blocker else "", style="dim")
        t.append(self._wrapped(d.blocker) + "\n" if d.blocker else "auto acts on the next confident decision\n",
                 style="yellow" if d.blocker else "green")
        extra = [f"{name} {value}" for name, value in (
            ("p_win", None if d.p_win is None else f"{d.p_win:.2f}"), ("policy", d.policy),
            ("propensity", None if d.propensity is None else f"{d.propensity:.2f}")) if value is not None]
        if extra:
            t.append(" · ".join(extra) + "\n")
        calls = {c.name: c for c in d.calls}
        for m in snap.models or ():
            c = calls.get(m.name)
            t.append(f"{MODEL_LABELS.get(m.name, m.name):<4}", style="bold " + MODEL_COLORS.get(m.name, ""))
            share = fmt.DASH if c is None or c.contribution is None else f"{100 * c.contribution:.0f}%"
            t.append(f" {share:>4}")
            if m.last_loss is None:
                stored = f": {m.warming_up} outcome(s) stored, trains once it holds a batch" if m.warming_up else ""
                t.append(f"  {m.steps:>5} st  warming up{stored}", style="dim")
            else:
                kind = "obj" if m.name in OBJECTIVES else "loss"
                t.append(f"  {m.steps:>5} st  {kind} {m.last_loss:+.3g}" if kind == "obj"
                         else f"  {m.steps:>5} st  {kind} {m.last_loss:.3g}")
            if c is not None and c.version is not None:
                t.append(f"  v{c.version}", style="dim")
            t.append("\n     " + (c.says if c is not None else fmt.DASH) + "\n", style="dim")
        if snap.training_lag_p50_s is not None:
            t.append(f"training lag p50 {snap.training_lag_p50_s:.3g}s (event time)", style="dim")
        self.update(t)
