"""Binance's diff-depth book sync for one symbol (`BookSync`), and the depth payloads it reads.

The venue keeps its own copy of the book (`_CheckBook`) only to refuse a diff that would cross
it; the engine's order book applies what this module lets through.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.core.enums import FeedState
from engine.core.events import BookEvent, FeedStatus, InvalidEvent, RejectCounter, check_levels
from engine.core.units import NS_PER_MS

_NONE = np.empty((0, 2), dtype=np.float64)
HOLD_MAX = 20_000  # diffs held while waiting for the first snapshot; beyond this the oldest are dropped (counted)
RESYNC_KEEP = 2_000  # diffs applied since a gap kept to re-apply on a resync snapshot (~3 min of 100 ms diffs)


def _levels(raw) -> np.ndarray:
    """Binance `[[price, qty], ...]` -> (n, 2) float64, validated like BookEvent."""
    try:
        arr = np.array(raw, dtype=np.float64).reshape(-1, 2)
    except (ValueError, TypeError):
        raise InvalidEvent("malformed", "book levels") from None
    return check_levels(arr)


def event_ns(data: dict, key: str, local_ns: int) -> int:
    """A Binance payload's event time: its `key` (ms), else `E`, else the local receive time."""
    ms = data.get(key) or data.get("E")
    return int(ms) * NS_PER_MS if ms is not None else local_ns


@dataclass(slots=True)
class Diff:
    """One depthUpdate, parsed."""

    ts_ns: int
    first: int  # U
    last: int  # u
    prev: int | None  # pu (USD-M only)
    bids: np.ndarray | None
    asks: np.ndarray | None
    bad: str | None = None  # reject reason when the ids parsed but the levels did not


class _CheckBook:
    """The venue's own copy of the book, only to refuse updates that would cross it.

    Best prices come from lazy-deletion heaps, so a check costs O(log n), not a scan.
    """

    def __init__(self, bids: np.ndarray, asks: np.ndarray) -> None:
        self.sides: tuple[dict[float, float], dict[float, float]] = ({}, {})
        self.heaps: tuple[list[float], list[float]] = ([], [])  # bids negated (max-heap)
        self._set(bids, asks)

    def _set(self, bids: np.ndarray, asks: np.ndarray) -> list[tuple[int, float, float | None]]:
        undo = []
        for i, levels in enumerate((bids, asks)):
            side, heap, sign = self.sides[i], self.heaps[i], (-1.0 if i == 0 else 1.0)
            for p, q in levels.tolist():
                old = side.get(p)
                undo.append((i, p, old))
                if q == 0.0:
                    side.pop(p, None)
                else:
                    if old is None:
                        heapq.heappush(heap, sign * p)
                    side[p] = q
        return undo

    def _best(self, i: int) -> float | None:
        side, heap = self.sides[i], self.heaps[i]
        sign = -1.0 if i == 0 else 1.0
        while heap and sign * heap[0] not in side:
            heapq.heappop(heap)
        return sign * heap[0] if heap else None

    def crossed(self) -> bool:
        bid, ask = self._best(0), self._best(1)
        return bid is not None and ask is not None and bid >= ask

    def apply_or_refuse(self, bids: np.ndarray, asks: np.ndarray) -> tuple[int, float] | None:
        """Apply a diff and return None; if it would cross the book, undo it and return the
        level it crosses as (side, price), side 0 bids, 1 asks: the resting touch the diff's
        other side reaches, or, where both touches are the diff's own, the one nearer the mid
        before it (the farther one is the outlier)."""
        before_bid, before_ask = self._best(0), self._best(1)
        undo = self._set(bids, asks)
        if not self.crossed():
            return None
        bid, ask = self._best(0), self._best(1)
        new_bid = bid in {p for p, q in bids.tolist() if q > 0}
        new_ask = ask in {p for p, q in asks.tolist() if q > 0}
        self._undo(undo)
        if new_bid != new_ask:
            return (1, ask) if new_bid else (0, bid)
        if before_bid is None or before_ask is None:
            return (-1, 0.0)  # nothing to judge by
        mid = (before_bid + before_ask) / 2
        return (1, ask) if abs(bid - mid) > abs(ask - mid) else (0, bid)

    def apply_trimmed(self, bids: np.ndarray, asks: np.ndarray, resting_side: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Apply a diff without its levels that cross the resting side (`resting_side` 1: the
        diff's bids reach the asks; 0: its asks reach the bids) and return what was applied;
        None, with nothing applied, if the rest still crosses."""
        own = 1 - resting_side  # the diff's crossing side
        levels = (bids, asks)
        undo = self._set(*((levels[0], _NONE) if own == 1 else (_NONE, levels[1])))
        touch = self._best(resting_side)
        mine = levels[own]
        if touch is not None:
            reach = mine[:, 0] >= touch if own == 0 else mine[:, 0] <= touch
            mine = mine[(mine[:, 1] == 0.0) | ~reach]
        undo += self._set(*((mine, _NONE) if own == 0 else (_NONE, mine)))
        if self.crossed():
            self._undo(undo)
            return None
        return (mine, asks) if own == 0 else (bids, mine)

    def _undo(self, undo: list[tuple[int, float, float | None]]) -> None:
        for i, p, old in reversed(undo):
            if old is None:
                self.sides[i].pop(p, None)
            else:
                if p not in self.sides[i]:
                    heapq.heappush(self.heaps[i], (-p if i == 0 else p))
                self.sides[i][p] = old

    def apply_removing_stale(self, bids: np.ndarray, asks: np.ndarray, stale_side: int) -> list[float]:
        """Apply a diff, then delete the levels of `stale_side` it crosses; return their prices."""
        self._set(bids, asks)
        removed = []
        while self.crossed():
            price = self._best(stale_side)
            del self.sides[stale_side][price]
            removed.append(price)
        return removed


def _chains(diff: Diff, prev_u: int) -> bool:
    """Whether `diff` follows the last applied u without a hole (spot: U <= prev_u+1, overlap
    allowed; USD-M: pu == prev_u)."""
    return diff.first <= prev_u + 1 if diff.prev is None else diff.prev == prev_u


class BookSync:
    """Binance diff-depth sync for one symbol: snapshot, then an unbroken chain of diffs.

    The rule is Binance's. Diffs seen before the first snapshot are held (at most HOLD_MAX);
    diffs with u <= lastUpdateId are superseded by the snapshot and dropped; the first diff
    applied must straddle lastUpdateId+1 (spot: U <= id+1; USD-M, whose ids are not contiguous
    per symbol: pu <= id). After that a diff with u <= the last applied u is a duplicate or
    stale diff: dropped and counted `stale_diff`, the book stays in sync. A diff that leaves a
    hole (spot: U > prev_u+1; USD-M: pu != prev_u) is a real gap, counted `sequence_gap`: a
    FeedStatus("gap") says so and the book goes on unsynced from that diff (recordings carry
    one snapshot, so waiting for the next would drop the rest of the day) until a snapshot
    resyncs it; the diffs applied meanwhile that the snapshot does not cover are applied again
    on top of it. A diff with an unusable level (`non_finite_price`, ...) is refused and counted;
    one that would cross the book is counted (`crossed_book`) and applied without its crossing
    levels (refused whole if the rest still crosses). Either way its ids count as seen, so the
    next diff chains and nothing else is lost. A second diff that crosses the same resting
    level, though, says the level is stale (a phantom the stream never deletes, which would
    otherwise trim every later diff that reaches it), and so does any crossing while unsynced
    after a gap (the missed diffs would have moved the level): that diff is applied whole and
    the crossed levels are deleted with it (`stale_levels_removed` in the stats). Snapshots
    seen in sync are ignored.
    """

    def __init__(self, symbol: str, rejected: RejectCounter, stats: dict[str, int]) -> None:
        self.symbol = symbol
        self.rejected = rejected
        self.stats = stats
        self.book: _CheckBook | None = None
        self.synced = False  # the chain since the last snapshot is unbroken
        self.lid: int | None = None  # snapshot id the next diff must straddle (None once chained)
        self.prev_u: int | None = None
        self.held: list[Diff] = []  # before the first snapshot
        self.unsynced: deque[Diff] = deque(maxlen=RESYNC_KEEP)  # applied since a gap
        self.crossed_level: tuple[int, float] | None = None  # the resting level the last refused diff crossed
        self.last_ts = 0

    def _count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1

    def on_snapshot(self, local_ns: int, obj: dict) -> list:
        try:
            lid = int(obj["lastUpdateId"])
            bids, asks = _levels(obj["bids"]), _levels(obj["asks"])
        except InvalidEvent as exc:
            self.rejected.add(exc.reason)
            return []
        except (KeyError, TypeError, ValueError):
            self.rejected.add("malformed")
            return []
        book = _CheckBook(bids, asks)
        if book.crossed():
            self.rejected.add("crossed_book")
            return []
        if self.synced:
            self._count("snapshots_ignored")
            return []
        ts = event_ns(obj, "E", local_ns)
        if self.book is None:  # the first: stamped between the held diffs it covers and those it does not
            stale = [d.ts_ns for d in self.held if d.last <= lid]
            fresh = [d.ts_ns for d in self.held if d.last > lid]
            ts = max(ts, self.last_ts, *stale) if stale else max(ts, self.last_ts)
            if fresh:
                ts = min(ts, fresh[0])
            pending, self.held = self.held, []
            out: list = []
        else:  # a resync after a gap: the stream's time never goes back
            ts = max(ts, self.last_ts)
            pending = list(self.unsynced)
            out = [FeedStatus(ts, FeedState.RECOVERED, f"{self.symbol}: book resynced from a snapshot", self.symbol)]
            self._count("resyncs")
        self.unsynced.clear()
        self.book, self.synced, self.lid, self.prev_u = book, True, lid, None
        self.last_ts = ts
        self._count("snapshots")
        out.append(BookEvent(ts, self.symbol, bids, asks, True, last_id=lid))
        for diff in pending:
            out += self.on_diff(diff)
        return out

    def on_diff(self, diff: Diff) -> list:
        if self.book is None:
            return self._hold(diff)
        out: list = []
        if self.lid is not None:
            if diff.last <= self.lid:
                self._count("superseded_by_snapshot")
                return []
            # USD-M ids are not contiguous per symbol, so there the diff must follow the snapshot (pu <= id)
            reach = diff.prev if diff.prev is not None else diff.first - 1
            if reach > self.lid:
                out = self._gap(diff, f"first diff U={diff.first} pu={diff.prev} after lastUpdateId={self.lid}")
        elif diff.last <= self.prev_u:
            self.rejected.add("stale_diff")
            return []
        elif not _chains(diff, self.prev_u):
            out = self._gap(diff, f"U={diff.first} pu={diff.prev} after u={self.prev_u}")
        self.lid, self.prev_u = None, diff.last  # refused or not, these ids are seen
        if diff.bad is not None:
            self.rejected.add(diff.bad)
            return out
        bids, asks = diff.bids, diff.asks
        resting = self.book.apply_or_refuse(bids, asks)
        # the resting level is the stale one when a second diff crosses it, or at once after a
        # gap (the missed diffs would have moved it); otherwise the diff's level is the outlier
        stale = resting is not None and resting[0] >= 0 and (resting == self.crossed_level or not self.synced)
        if resting is not None and not stale:
            self.crossed_level = resting
            self.rejected.add("crossed_book")
            trimmed = self.book.apply_trimmed(bids, asks, resting[0]) if resting[0] >= 0 else None
            if trimmed is None or not (trimmed[0].size or trimmed[1].size):
                return out  # nothing left to apply
            bids, asks = trimmed
        elif resting is not None:
            removed = self.book.apply_removing_stale(bids, asks, resting[0])
            deletions = np.array([(p, 0.0) for p in removed], dtype=np.float64).reshape(-1, 2)
            bids, asks = (np.vstack([bids, deletions]), asks) if resting[0] == 0 else (bids, np.vstack([asks, deletions]))
            self.stats["stale_levels_removed"] = self.stats.get("stale_levels_removed", 0) + len(removed)
            self.crossed_level = None
        if not self.synced:
            self.unsynced.append(diff)
        self.last_ts = max(self.last_ts, diff.ts_ns)
        return out + [BookEvent(self.last_ts, self.symbol, bids, asks, False, diff.first, diff.last, diff.prev)]

    def finish(self) -> list:
        """End of data: diffs still held (no snapshot ever came) are counted unused."""
        if not self.held:
            return []
        held, self.held = self.held, []
        for _ in held:
            self.rejected.add("no_snapshot")
        return [FeedStatus(held[-1].ts_ns, FeedState.GAP, f"{self.symbol}: no depth snapshot; {len(held)} diffs unused", self.symbol)]

    def _hold(self, diff: Diff) -> list:
        self.held.append(diff)
        if len(self.held) > HOLD_MAX:
            self.held.pop(0)
            self.rejected.add("no_snapshot")
        return []

    def _gap(self, diff: Diff, detail: str) -> list:
        """A real gap: counted, announced (while in sync), and the book goes on unsynced."""
        self.rejected.add("sequence_gap")
        self._count("gaps")
        was_synced, self.synced = self.synced, False
        if not was_synced:
            return []
        self.last_ts = max(self.last_ts, diff.ts_ns)
        return [FeedStatus(self.last_ts, FeedState.GAP,
                           f"{self.symbol}: sequence_gap: {detail}; book continues unsynced until a snapshot", self.symbol)]


def parse_diff(local_ns: int, data: dict) -> Diff:
    """A depthUpdate payload -> Diff; bad levels are kept as `bad` so the chain still sees ids."""
    try:
        first, last = int(data["U"]), int(data["u"])
        prev = int(data["pu"]) if "pu" in data else None
        ts = event_ns(data, "E", local_ns)
    except (KeyError, TypeError, ValueError):
        raise InvalidEvent("malformed", "depth ids") from None
    try:
        return Diff(ts, first, last, prev, _levels(data.get("b", [])), _levels(data.get("a", [])))
    except InvalidEvent as exc:
        return Diff(ts, first, last, prev, None, None, bad=exc.reason)
