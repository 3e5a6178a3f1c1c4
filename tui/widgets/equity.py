"""Account: equity, realised and unrealised PnL, fees, return %, the closed trades' PnL by who
opened them (greedy, explored, manual), PnL per day, and the realised equity curve (the
balance before the trades shown plus their net PnL, in trade order)."""

from __future__ import annotations

from collections import defaultdict

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt


class EquityPane(Vertical):
    def compose(self) -> ComposeResult:
        self._figures = Static(id="equity-figures")
        self._plot = PlotextPlot(id="equity-plot")
        self._shown: tuple | None = None
        yield self._figures
        yield self._plot

    def update_from(self, snap: EngineSnapshot) -> None:
        d = snap.desk
        start = d.start_equity if d is not None and d.start_equity else snap.equity
        upnl = sum(p.upnl or 0.0 for p in snap.positions)
        realised = sum(t.pnl for t in snap.trades)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("equity ", style="dim")
        t.append(fmt.price(snap.equity), style="bold")
        ret = (snap.equity - start) / start if start else None
        t.append(f"  return {fmt.signed(None if ret is None else 100 * ret, 3)}%", style=fmt.sign_style(ret))
        t.append("\nrealised ", style="dim")
        t.append(fmt.signed(realised), style=fmt.sign_style(realised))
        t.append("  unrealised ", style="dim")
        t.append(fmt.signed(upnl), style=fmt.sign_style(upnl))
        t.append("  fees ", style="dim")
        t.append(fmt.price(d.fees_paid if d is not None else sum(x.fees for x in snap.trades)))
        split = by_opener(snap.trades)
        if split:
            t.append("\nby opener ", style="dim")
            for i, (who, (pnl, n)) in enumerate(split.items()):
                t.append(" · " if i else "", style="dim")
                t.append(f"{who} ")
                t.append(fmt.signed(pnl), style=fmt.sign_style(pnl))
                t.append(f" ({n})", style="dim")
        days: dict[str, float] = defaultdict(float)
        for tr in snap.trades:
            days[fmt.event_time(tr.exit_ns)[:10]] += tr.pnl
        for day in sorted(days)[-3:]:
            t.append(f"\n{day} ", style="dim")
            t.append(fmt.signed(days[day]), style=fmt.sign_style(days[day]))
        t.append(f"\n(last {len(snap.trades)} closed trades)" if snap.trades else "\nno closed trades yet", style="dim")
        self._figures.update(t)
        key = tuple(tr.id for tr in snap.trades[:1]) + (len(snap.trades),)
        if key == self._shown:
            return
        self._shown = key
        self._plot.display = len(snap.trades) >= 2
        if len(snap.trades) < 2:
            return
        curve = realised_curve(snap.equity - upnl, [tr.pnl for tr in reversed(snap.trades)])
        plt = self._plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.theme("pro")
        plt.plot(list(range(len(curve))), curve, marker="braille", color="green" if curve[-1] >= curve[0] else "red")
        ticks = sorted({0, len(curve) // 2, len(curve) - 1})
        plt.xticks(ticks, [str(x) for x in ticks])
        plt.xlabel("closed trades")
        self._plot.refresh()


def realised_curve(balance_now: float, pnl_oldest_first: list[float]) -> list[float]:
    """The realised balance before the oldest trade shown and after each one, ending at the
    balance now (equity less unrealised PnL), whatever came before the trades shown."""
    curve = [balance_now - sum(pnl_oldest_first)]
    for pnl in pnl_oldest_first:
        curve.append(curve[-1] + pnl)
    return curve


OPENERS = {"auto": "greedy", "explore": "explored", "manual": "manual"}


def by_opener(trades) -> dict[str, tuple[float, int]]:
    """Net PnL and count of the trades shown, by who opened them: the models' own (greedy)
    choices apart from exploration draws and the trader's manual trades."""
    out: dict[str, tuple[float, int]] = {}
    for who in OPENERS:
        mine = [tr.pnl for tr in trades if tr.open_source == who]
        if mine:
            out[OPENERS[who]] = (sum(mine), len(mine))
    return out
