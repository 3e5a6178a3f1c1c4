"""Williams market structure: causal, incremental, recursive swing pivots.

Level 1 comes from bars, level k from the pivots of level k-1.
Every pivot records the time of its bar and the time it became *known* (the close of the
bar that confirmed it); nothing here ever revises a pivot once emitted, so features built
from the pivots known at time t cannot change when later bars arrive (a pivot dated to its
own bar, before the bar that confirmed it, would leak the future into earlier states).

Level-1 rules, applied to closed bars in order:
- Inside bar (high <= reference high and low >= reference low, where the reference is the
  last bar that was not inside): ignored. The neighbours of a bar are the nearest
  non-inside bars, so an inside bar never confirms, blocks or becomes a pivot.
- Outside bar (high > reference high and low < reference low): split into two virtual bars
  in the order its own path implies. Close >= open: open->low then low->high (the low came
  first); close < open: open->high then high->low. Both halves carry the bar's open time and
  are known at its close, so an outside bar can confirm its neighbour and be a low and a high.
- Ties: a high needs to be strictly above its left neighbour and >= its right neighbour (lows
  mirror), so a flat double top yields exactly one pivot, at its first bar.
Level k >= 2 uses the same tie rule on the sequence of level-(k-1) highs (and lows), and a
level-k point is known when its right neighbour at level k-1 is known.

Timeframes (measured on 30 days of real ETH 1m bars, see tests/engine/features/test_pivots.py and the
module constant below): one recursion level thins pivots by ~x4, so 300 bars hold ~130 L1
but ~1 L4 and no L5 pivots. The five state levels therefore use two chains: levels 1-3 of a
1m chain and levels 1-2 of a 1h chain (1h L1 ~ one pivot per 2.3 h, the scale of 1m L4;
1h L2 ~ one per 9 h, the scale of 1m L5). Warm-up history (300 bars per timeframe) then
fills every level from the first decision, and no level waits ~400 bars for confirmation.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from operator import attrgetter
from dataclasses import dataclass

import numpy as np

from engine.market.bars import COL, BarRing
from engine.core.units import TIMEFRAME_NS
from engine.core.units import NS_PER_S

HIGH, LOW = 1, -1
_bar_index = attrgetter("bar_index")
KEEP = 64  # pivots kept per level and kind (features look at the newest few)

# State level -> (timeframe, recursion level on that timeframe's chain).
LEVEL_SOURCES: tuple[tuple[str, int], ...] = (("1m", 1), ("1m", 2), ("1m", 3), ("1h", 1), ("1h", 2))


@dataclass(frozen=True, slots=True)
class Pivot:
    kind: int  # HIGH or LOW
    level: int  # recursion level on its chain (1 = from bars)
    price: float
    bar_index: int  # index of the pivot's bar on its timeframe (0 = first bar seen)
    t_s: float  # open time of the pivot's bar, seconds
    known_index: int  # index of the bar whose close confirmed it
    known_s: float  # close time of that bar, seconds: the pivot is unknown before this


@dataclass(slots=True)
class _Point:
    """A candidate in a level's sequence: a (virtual) bar at level 0, a pivot above it."""

    high: float
    low: float
    index: int
    t_s: float


class _Triple:
    """Sliding (left, middle) window over one sequence; the next point tests the middle."""

    __slots__ = ("left", "mid")

    def __init__(self) -> None:
        self.left: _Point | None = None
        self.mid: _Point | None = None

    def push(self, p: _Point) -> tuple[_Point, _Point, _Point] | None:
        out = None if self.left is None or self.mid is None else (self.left, self.mid, p)
        self.left, self.mid = self.mid, p
        return out


class PivotChain:
    """Recursive pivots of one timeframe, fed one closed bar at a time."""

    def __init__(self, timeframe: str, levels: int, step_s: float) -> None:
        self.timeframe = timeframe
        self.levels = levels
        self.step_s = step_s
        self.pivots: dict[tuple[int, int], deque[Pivot]] = {
            (lvl, kind): deque(maxlen=KEEP) for lvl in range(1, levels + 1) for kind in (HIGH, LOW)
        }
        self.counts = {key: 0 for key in self.pivots}  # emitted since start (not capped)
        self._ref: _Point | None = None  # last non-inside bar (inside-bar reference)
        self._bars = _Triple()
        self._seq = {(lvl, kind): _Triple() for lvl in range(2, levels + 1) for kind in (HIGH, LOW)}
        self.bars_seen = 0
        self.last_close_s = 0.0

    def on_bar(self, t_s: float, o: float, h: float, low: float, c: float) -> list[Pivot]:
        """Consume one closed bar; return the pivots it confirmed (all levels)."""
        index = self.bars_seen
        self.bars_seen += 1
        self.last_close_s = t_s + self.step_s
        ref = self._ref
        if ref is not None and h <= ref.high and low >= ref.low:
            return []  # inside bar: ignored
        if ref is not None and h > ref.high and low < ref.low:
            if c >= o:
                halves = (_Point(o, low, index, t_s), _Point(h, low, index, t_s))
            else:
                halves = (_Point(h, o, index, t_s), _Point(h, low, index, t_s))
        else:
            halves = (_Point(h, low, index, t_s),)
        out: list[Pivot] = []
        for p in halves:
            self._ref = p
            win = self._bars.push(p)
            if win is None:
                continue
            left, mid, right = win
            if mid.high > left.high and mid.high >= right.high:
                self._emit(Pivot(HIGH, 1, mid.high, mid.index, mid.t_s, index, self.last_close_s), out)
            if mid.low < left.low and mid.low <= right.low:
                self._emit(Pivot(LOW, 1, mid.low, mid.index, mid.t_s, index, self.last_close_s), out)
        return out

    def _emit(self, pv: Pivot, out: list[Pivot]) -> None:
        self.pivots[(pv.level, pv.kind)].append(pv)
        self.counts[(pv.level, pv.kind)] += 1
        out.append(pv)
        nxt = pv.level + 1
        if nxt > self.levels:
            return
        win = self._seq[(nxt, pv.kind)].push(_Point(pv.price, pv.price, pv.bar_index, pv.t_s))
        if win is None:
            return
        left, mid, right = win
        s = pv.kind  # +1 highs: greater is more extreme; -1 lows: smaller is
        if s * mid.high > s * left.high and s * mid.high >= s * right.high:
            self._emit(Pivot(pv.kind, nxt, mid.high, mid.index, mid.t_s, pv.known_index, pv.known_s), out)

    def feed(self, ring: BarRing) -> list[Pivot]:
        """Consume the ring's bars closed since the last call (incremental)."""
        new = ring.total - self.bars_seen
        if new <= 0:
            return []
        if new > len(ring):  # bars fell out of the ring before we saw them: skip the gap
            self.bars_seen = ring.total - len(ring)
            new = len(ring)
        out: list[Pivot] = []
        for row in ring.last(new).tolist():
            out.extend(self.on_bar(row[COL["open_time_s"]], row[COL["open"]], row[COL["high"]], row[COL["low"]], row[COL["close"]]))
        return out

    def known(self, level: int, kind: int, now_s: float) -> list[Pivot]:
        """Pivots of a level and kind confirmed by `now_s`, oldest first.

        A level's pivots are appended as they are confirmed, so `known_s` never decreases
        along the deque: when the newest is known, all are (the usual case, without a scan)."""
        pts = self.pivots[(level, kind)]
        if not pts or pts[-1].known_s <= now_s:
            return list(pts)
        return [p for p in pts if p.known_s <= now_s]


def pivots_from_arrays(t_s: np.ndarray, ohlc: np.ndarray, levels: int = 5, step_s: float = 60.0) -> PivotChain:
    """Run a chain over whole arrays (analysis and tests); same code path as live feeding."""
    chain = PivotChain("array", levels, step_s)
    for t, (o, h, low, c) in zip(t_s, ohlc):
        chain.on_bar(float(t), float(o), float(h), float(low), float(c))
    return chain


def atr(bars: np.ndarray, n: int = 14) -> float:
    """Mean true range of the last `n` bars (0.0 when there are fewer than two bars)."""
    if len(bars) < 2:
        return 0.0
    b = bars[-(n + 1):]
    prev_close = b[:-1, COL["close"]]
    hi, lo = b[1:, COL["high"]], b[1:, COL["low"]]
    tr = np.maximum(hi, prev_close) - np.minimum(lo, prev_close)
    return float(tr.mean())


def _zigzag(highs: list[Pivot], lows: list[Pivot]) -> list[Pivot]:
    """Time-ordered highs and lows with same-kind runs collapsed to their extreme (legs)."""
    seq = sorted(highs + lows, key=lambda p: (p.bar_index, p.known_index))
    out: list[Pivot] = []
    for p in seq:
        if out and out[-1].kind == p.kind:
            if p.kind * p.price > p.kind * out[-1].price:
                out[-1] = p
        else:
            out.append(p)
    return out


# Expected pivots (both kinds) per 300 bars of the level's timeframe, measured on real ETH
# (300-bar windows: 1m L1-L3; 1h chain L1-L2); used to scale the density feature.
EXPECTED_PER_300 = {("1m", 1): 101.0, ("1m", 2): 26.0, ("1m", 3): 6.0, ("1h", 1): 110.0, ("1h", 2): 28.0}


def level_features(chain: PivotChain, level: int, bars: np.ndarray, close: float, now_s: float,
                   unit: float | None = None) -> np.ndarray:
    """The 50 features of one level, from pivots known by now_s.

    `bars` are the level timeframe's closed bars (oldest first, the newest has index
    chain.bars_seen - 1); `close` is the reference price (newest 1m close). Distances are in
    units of the timeframe's ATR, ages log1p(bars). Missing pivots give zeros, and the last
    two features are the has-highs / has-lows flags.
      0-9   last 5 highs, newest first: (price - close)/ATR, log1p age
      10-19 last 5 lows, same
      20-29 last 5 zigzag legs, newest first: signed size/ATR, log1p duration
      30-39 HH/LH of last two high changes (2), HL/LL of lows (2), trend (+1/-1/0),
            log1p bars since close last broke a known high or low, close position in the
            last swing range, nearest known high above and low below (ATR), pivot density
      40-49 extreme since the last pivot (ATR, log1p age), last leg size percentile among
            known legs, touches of last high / low within 0.1 ATR since formed (log1p),
            close above last high / below last low, log1p confirmation lag of the newest
            pivot, has-highs, has-lows
    `unit` is atr(bars) when the caller has it already (levels that share a timeframe).
    """
    f = np.zeros(50, dtype=np.float64)
    highs = chain.known(level, HIGH, now_s)
    lows = chain.known(level, LOW, now_s)
    unit = atr(bars) if unit is None else unit
    if not (highs or lows) or unit <= 0.0 or len(bars) == 0:
        return f
    last_index = chain.bars_seen - 1

    def dist(price: float) -> float:
        return (price - close) / unit

    def age(index: int) -> float:
        return math.log1p(max(last_index - index, 0))

    for base, pts in ((0, highs), (10, lows)):
        for j, p in enumerate(reversed(pts[-5:])):
            f[base + 2 * j] = dist(p.price)
            f[base + 2 * j + 1] = age(p.bar_index)
    zz = _zigzag(highs[-16:], lows[-16:])
    legs = [(b.price - a.price, b.bar_index - a.bar_index) for a, b in zip(zz[:-1], zz[1:])]
    for j, (size, dur) in enumerate(reversed(legs[-5:])):
        f[20 + 2 * j] = size / unit
        f[21 + 2 * j] = math.log1p(dur)
    for base, pts in ((30, highs), (32, lows)):
        for j in range(2):
            if len(pts) >= j + 2:
                d = pts[-1 - j].price - pts[-2 - j].price
                f[base + j] = (d > 0) - (d < 0)
    if f[30] > 0 and f[32] > 0:
        f[34] = 1.0
    elif f[30] < 0 and f[32] < 0:
        f[34] = -1.0
    closes, hi_col, lo_col = bars[:, COL["close"]], bars[:, COL["high"]], bars[:, COL["low"]]
    first_index = last_index - len(bars) + 1
    last_h, last_l = (highs[-1] if highs else None), (lows[-1] if lows else None)
    breaks = np.zeros(len(bars), dtype=bool)
    for p, s in ((last_h, 1.0), (last_l, -1.0)):
        if p is not None:
            since = max(p.known_index + 1 - first_index, 0)
            breaks[since:] |= s * (closes[since:] - p.price) > 0
    hit = np.flatnonzero(breaks)
    f[35] = math.log1p(len(bars) - 1 - hit[-1]) if hit.size else math.log1p(len(bars))
    if last_h is not None and last_l is not None and last_h.price > last_l.price:
        f[36] = min(max((close - last_l.price) / (last_h.price - last_l.price), -1.0), 2.0)
    above = [p.price for p in highs[-16:] if p.price > close]
    below = [p.price for p in lows[-16:] if p.price < close]
    f[37] = dist(min(above)) if above else 0.0
    f[38] = dist(max(below)) if below else 0.0
    # bar_index never decreases along a level's pivots, so the count is two bisections
    in_window = sum(len(pts) - bisect_left(pts, last_index - 299, key=_bar_index) for pts in (highs, lows))
    f[39] = in_window / EXPECTED_PER_300.get((chain.timeframe, level), 1.0)
    newest = max(highs[-1:] + lows[-1:], key=lambda p: (p.bar_index, p.known_index))
    since = max(newest.bar_index + 1 - first_index, 0)
    if since < len(bars):
        seg_hi, seg_lo = hi_col[since:], lo_col[since:]
        if newest.kind == LOW:  # looking for the next high: highest high since
            k = int(np.argmax(seg_hi))
            f[40] = dist(seg_hi[k])
        else:
            k = int(np.argmin(seg_lo))
            f[40] = dist(seg_lo[k])
        f[41] = math.log1p(len(seg_hi) - 1 - k)
    if legs:  # share of known legs no bigger than the last (plain floats: a few dozen at most)
        last_size = abs(legs[-1][0])
        f[42] = sum(abs(size) <= last_size for size, _ in legs) / len(legs)
    for j, (p, col) in enumerate(((last_h, hi_col), (last_l, lo_col))):
        if p is not None:
            since = max(p.known_index + 1 - first_index, 0)
            f[43 + j] = math.log1p(np.count_nonzero(np.abs(col[since:] - p.price) <= 0.1 * unit))
    f[45] = float(last_h is not None and close > last_h.price)
    f[46] = float(last_l is not None and close < last_l.price)
    f[47] = math.log1p(newest.known_index - newest.bar_index)
    f[48] = float(bool(highs))
    f[49] = float(bool(lows))
    return f


class MarketStructure:
    """The five state levels for one symbol: one chain per timeframe in LEVEL_SOURCES, fed
    incrementally from the bar rings; the (5, 50) block is recomputed only when a ring the
    levels read from has changed (its `.version`)."""

    def __init__(self, sources: tuple[tuple[str, int], ...] = LEVEL_SOURCES) -> None:
        self.sources = sources
        depth: dict[str, int] = {}
        for tf, lvl in sources:
            depth[tf] = max(depth.get(tf, 0), lvl)
        self.chains = {tf: PivotChain(tf, n, TIMEFRAME_NS[tf] / NS_PER_S) for tf, n in depth.items()}
        self._key: tuple | None = None
        self.version = 0  # bumps whenever the block is recomputed (the state builder's cache key)
        self._block = np.zeros((len(sources), 50))
        self._valid = np.zeros(len(sources), dtype=bool)

    def update(self, rings: dict[str, BarRing], close_tf: str = "1m") -> tuple[np.ndarray, np.ndarray]:
        """Feed newly closed bars and return (block (levels, 50), valid per level)."""
        key = tuple(rings[tf].version for tf in self.chains) + (rings[close_tf].version,)
        if key == self._key:
            return self._block, self._valid
        self._key = key
        self.version += 1
        for tf, chain in self.chains.items():
            chain.feed(rings[tf])
        latest = rings[close_tf].latest()
        if latest is None:
            self._block[:] = 0.0
            self._valid[:] = False
            return self._block, self._valid
        close = float(latest[COL["close"]])
        now_s = max(c.last_close_s for c in self.chains.values())
        units: dict[str, float] = {}
        for i, (tf, lvl) in enumerate(self.sources):
            bars = rings[tf].last()
            unit = units.setdefault(tf, atr(bars))
            self._block[i] = level_features(self.chains[tf], lvl, bars, close, now_s, unit)
            self._valid[i] = bool(self._block[i, 48] or self._block[i, 49])
        return self._block, self._valid
