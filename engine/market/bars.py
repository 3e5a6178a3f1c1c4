"""Bar aggregation into fixed-size numpy ring buffers (1s, 1m, 1h, 1d).

Trades update the bar in progress; a bar closes when event time crosses its end. Seconds (or
minutes…) without trades become flat zero-volume bars at the previous close, so every
timeframe stays on a regular grid. Memory is fixed: each ring holds `capacity` bars.
"""

from __future__ import annotations

import numpy as np

from engine.core.events import BarEvent
from engine.core.units import NS_PER_S, TIMEFRAMES, TIMEFRAME_NS

# Columns of a bar row. `trades` and `buy_volume` exist for bars built from trades; bars
# loaded from kline files carry NaN there (unknown), never an invented number.
COLUMNS = ("open_time_s", "open", "high", "low", "close", "volume", "trades", "buy_volume")
COL = {name: i for i, name in enumerate(COLUMNS)}
_NEVER = float("inf")


class BarRing:
    """Closed bars of one symbol and timeframe, oldest first, fixed capacity."""

    def __init__(self, timeframe: str, capacity: int = 300) -> None:
        if timeframe not in TIMEFRAME_NS:
            raise ValueError(f"unknown timeframe {timeframe!r}")
        self.timeframe = timeframe
        self.step_ns = TIMEFRAME_NS[timeframe]
        self.capacity = capacity
        self._data = np.zeros((capacity, len(COLUMNS)), dtype=np.float64)
        self._next = 0  # total bars ever appended
        self.version = 0  # bumps on every append; lets consumers cache derived features
        self._ordered = np.empty((0, len(COLUMNS)))
        self._ordered_version = 0

    def __len__(self) -> int:
        return min(self._next, self.capacity)

    @property
    def total(self) -> int:
        """Bars appended since start (not capped by capacity)."""
        return self._next

    def append(self, row: np.ndarray | tuple | list) -> None:
        self._data[self._next % self.capacity] = row
        self._next += 1
        self.version += 1

    def last(self, n: int | None = None) -> np.ndarray:
        """The newest `n` bars (default all held), oldest first, as a read-only array.

        The held bars are put in order once per `version` and shared: a state build reads
        the same ring from several blocks (bars, regime, pivots), and each used to pay its
        own gather. Read-only, so no reader can change what another sees."""
        if self._ordered_version != self.version:
            held = len(self)
            end = self._next % self.capacity
            ordered = self._data[(np.arange(end - held, end)) % self.capacity] if held else np.empty((0, len(COLUMNS)))
            ordered.setflags(write=False)
            self._ordered, self._ordered_version = ordered, self.version
        held = len(self._ordered)
        n = held if n is None else max(min(n, held), 0)
        return self._ordered[held - n:]

    def latest(self) -> np.ndarray | None:
        if self._next == 0:
            return None
        return self._data[(self._next - 1) % self.capacity]

    @property
    def last_open_ns(self) -> int | None:
        row = self.latest()
        return None if row is None else int(round(row[0] * NS_PER_S))


class BarAggregator:
    """Builds closed bars for all timeframes of one symbol from trades or finished bars."""

    def __init__(self, symbol: str, capacity: int = 300, timeframes: tuple[str, ...] = TIMEFRAMES) -> None:
        self.symbol = symbol
        self.rings: dict[str, BarRing] = {tf: BarRing(tf, capacity) for tf in timeframes}
        # bar in progress per timeframe: [open_ns, o, h, l, c, v, n, buy_v] or None
        self._open: dict[str, list | None] = {tf: None for tf in timeframes}
        self.last_price: float | None = None
        # Earliest end of any bar in progress: event times before it close nothing, so
        # `advance` (called for every symbol on every event) returns without walking the rings.
        self._due_ns: float = _NEVER

    def _refresh_due(self) -> None:
        self._due_ns = min(
            (cur[0] + self.rings[tf].step_ns for tf, cur in self._open.items() if cur is not None), default=_NEVER)

    def _close_through(self, tf: str, ts_ns: int) -> None:
        """Close the bar in progress (and gap bars) whose end is <= ts_ns."""
        cur = self._open[tf]
        if cur is None:
            return
        ring = self.rings[tf]
        step = ring.step_ns
        while cur is not None and cur[0] + step <= ts_ns:
            ring.append((cur[0] / NS_PER_S, *cur[1:]))
            nxt = cur[0] + step
            if nxt + step <= ts_ns:
                # Empty interval(s): flat bars at the last close, at most `capacity` of them.
                gap = (ts_ns - nxt) // step
                if gap > ring.capacity:
                    nxt += (gap - ring.capacity) * step
                c = cur[4]
                cur = [nxt, c, c, c, c, 0.0, 0.0, 0.0]
            else:
                cur = None
        self._open[tf] = cur

    def advance(self, ts_ns: int) -> None:
        """Close every bar whose interval ended by event time ts_ns."""
        if ts_ns < self._due_ns:
            return
        for tf in self.rings:
            self._close_through(tf, ts_ns)
        self._refresh_due()

    def on_trade(self, ts_ns: int, price: float, qty: float, is_buy: bool) -> None:
        self.advance(ts_ns)
        opened = False
        for tf, ring in self.rings.items():
            cur = self._open[tf]
            if cur is None:
                start = ts_ns - ts_ns % ring.step_ns
                self._open[tf] = [start, price, price, price, price, qty, 1.0, qty if is_buy else 0.0]
                opened = True
            else:
                if price > cur[2]:
                    cur[2] = price
                if price < cur[3]:
                    cur[3] = price
                cur[4] = price
                cur[5] += qty
                cur[6] += 1.0
                if is_buy:
                    cur[7] += qty
        if opened:
            self._refresh_due()
        self.last_price = price

    def on_bar(self, bar: BarEvent) -> None:
        """A finished bar from a bars-only source: store it in its own timeframe and roll
        it up into the longer ones (a 1m bar contributes to 1h and 1d)."""
        tf_ns = TIMEFRAME_NS[bar.timeframe]
        for tf, ring in self.rings.items():
            if ring.step_ns < tf_ns:
                continue  # cannot make 1s bars out of 1m bars: that block stays short/masked
            if ring.step_ns == tf_ns:
                last = ring.last_open_ns
                if last is not None and bar.ts_ns <= last:
                    continue  # duplicate or late bar
                ring.append((bar.ts_ns / NS_PER_S, bar.open, bar.high, bar.low, bar.close, bar.volume, np.nan, np.nan))
                continue
            self._close_through(tf, bar.ts_ns)
            cur = self._open[tf]
            if cur is None:
                start = bar.ts_ns - bar.ts_ns % ring.step_ns
                self._open[tf] = [start, bar.open, bar.high, bar.low, bar.close, bar.volume, np.nan, np.nan]
            else:
                cur[2] = max(cur[2], bar.high)
                cur[3] = min(cur[3], bar.low)
                cur[4] = bar.close
                cur[5] += bar.volume
        self.last_price = bar.close
        self._refresh_due()
        # A bar is known only at its end: close what the bar's end completes.
        self.advance(bar.end_ns)

    def open_bar(self, timeframe: str) -> np.ndarray | None:
        """The bar in progress (not yet closed), or None."""
        cur = self._open[timeframe]
        if cur is None:
            return None
        return np.array([cur[0] / NS_PER_S, *cur[1:]])
