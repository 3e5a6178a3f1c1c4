"""Candle chart of the traded symbol (1s / 1m / 1h / 1d, switched with `t`): a price axis,
time labels, the open position's entry, stop and take-profit as lines, and fills marked
(▲ buy, ▼ sell) where they fall inside the window."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from engine.core.units import TIMEFRAMES, TIMEFRAME_NS, NS_PER_S
from engine.views.snapshot import EngineSnapshot
from tui import format as fmt

SHOWN = 40  # candles drawn: a fixed window, so a picture depends on the data and the size alone
REDRAW_EVERY = 4  # snapshots between redraws (about 2.5 Hz at the 10 Hz pump): plotext redraws all


class CandleChart(PlotextPlot):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timeframe = "1m"
        self._ticks = 0
        self._snap: EngineSnapshot | None = None
        self._waiting = True

    def cycle_timeframe(self) -> str:
        self.timeframe = TIMEFRAMES[(TIMEFRAMES.index(self.timeframe) + 1) % len(TIMEFRAMES)]
        self._draw()
        return self.timeframe

    def set_timeframe(self, timeframe: str) -> None:
        self.timeframe = timeframe
        self._draw()

    def update_from(self, snap: EngineSnapshot) -> None:
        self._snap = snap
        self._ticks += 1
        if self._waiting or self._ticks % REDRAW_EVERY == 1:
            self._draw()  # at once while it still says "waiting": the first bars show without delay

    def _draw(self) -> None:
        snap = self._snap
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.theme("pro")
        bars = None if snap is None or snap.desk is None else snap.desk.candles.get(self.timeframe)
        self._waiting = bars is None or len(bars) < 2
        if self._waiting:
            plt.title(f"{self.timeframe}: waiting for bars")
            self.refresh()
            return
        bars = bars[-SHOWN:]
        x = [float(v) for v in bars[:, 0]]
        plt.candlestick(x, {"Open": list(bars[:, 1]), "High": list(bars[:, 2]), "Low": list(bars[:, 3]),
                            "Close": list(bars[:, 4])})
        step = TIMEFRAME_NS[self.timeframe] / NS_PER_S
        lo_t, hi_t = x[0], x[-1] + step
        low, high = float(bars[:, 3].min()), float(bars[:, 2].max())  # low of the lows, high of the highs
        off = self._levels(snap, low, high)
        self._fills(snap, lo_t, hi_t)
        n = 3
        ticks = [x[round(i * (len(x) - 1) / n)] for i in range(n + 1)]
        plt.xticks(ticks, [fmt.clock(v, self.timeframe) for v in ticks])
        plt.xlim(lo_t - step, hi_t)
        plt.title(f"{snap.traded} {self.timeframe} · t: timeframe" + (f" · off chart: {off}" if off else ""))
        self.refresh()

    def _levels(self, snap: EngineSnapshot, low: float, high: float) -> str:
        """Entry (yellow), stop (red) and take-profit (green) lines of the open position; a
        level further than the candles' own range from them is named in the title instead,
        so a distant stop does not squash the candles to a line. Returns those names."""
        pad = max(high - low, 1e-9)
        off = []
        for p in snap.positions:
            if p.symbol != snap.traded:
                continue
            levels = snap.desk.risk.get(p.id)
            named = [("entry", p.entry, "yellow")]
            if levels is not None:
                named += [("stop", levels.stop, "red"), ("take-profit", levels.take_profit, "green")]
            for name, price, color in named:
                if low - pad <= price <= high + pad:
                    self.plt.hline(price, color)
                else:
                    off.append(f"{name} {fmt.price(price)}")
        return " · ".join(off)

    def _fills(self, snap: EngineSnapshot, lo_t: float, hi_t: float) -> None:
        """Entries and exits of the closed trades and the open position within the window."""
        pts: list[tuple[float, float, str]] = []
        for t in snap.trades:
            exit_side = "sell" if t.side == "buy" else "buy"
            pts += [(t.entry_ns / NS_PER_S, t.entry, t.side), (t.exit_ns / NS_PER_S, t.exit, exit_side)]
        for p in snap.positions:
            if p.symbol == snap.traded:
                pts.append((snap.event_ns / NS_PER_S - p.hold_s, p.entry, p.side))
        for side, marker, color in (("buy", "▲", "cyan"), ("sell", "▼", "magenta")):
            xs = [(ts, px) for ts, px, s in pts if s == side and lo_t <= ts <= hi_t]
            if xs:
                self.plt.scatter([a for a, _ in xs], [b for _, b in xs], marker=marker, color=color)
