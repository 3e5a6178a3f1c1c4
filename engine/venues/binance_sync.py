"""Binance's diff-depth book sync for one symbol (`BookSync`), and the depth payloads it reads.

The venue keeps its own copy of the book (`_CheckBook`) only to refuse a diff that would cross
it; the engine's order book applies what this module lets through.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from engine.core.enums import FeedState
from engine.core.events import BookEvent, FeedStatus, InvalidEvent, RejectCounter, check_levels
from engine.core.units import NS_PER_MS

HOLD_MAX = 20_000  # diffs held while waiting for a snapshot; beyond this the book goes on unsynced


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

    def apply_or_refuse(self, bids: np.ndarray, asks: np.ndarray) -> bool:
        """Apply a diff; if it would cross the book, undo it and return False."""
        undo = self._set(bids, asks)
        if not self.crossed():
            return True
        for i, p, old in reversed(undo):
            if old is None:
                self.sides[i].pop(p, None)
            else:
                if p not in self.sides[i]:
                    heapq.heappush(self.heaps[i], (-p if i == 0 else p))
                self.sides[i][p] = old
        return False


class BookSync:
    """Binance diff-depth sync for one symbol: snapshot, then an unbroken chain of diffs.

    Diffs seen before a snapshot are held; diffs with u <= lastUpdateId are dropped; the first
    applied diff must straddle lastUpdateId+1 (spot: U <= id+1; USD-M, whose ids are not
    contiguous per symbol: pu <= id); after that each diff must chain
    (U == prev_u + 1 on spot, pu == prev_u on USD-M). A break, or a diff that is non-finite or
    would cross the book, loses sync: it is counted, a FeedStatus("gap") is emitted and diffs
    are held until the next snapshot. If none comes before the end of the data (or HOLD_MAX
    diffs pile up), the held diffs are applied anyway on top of the last good book, and a second
    FeedStatus("gap") says the book now runs unsynced. Snapshots seen while in sync are ignored.
    """

    def __init__(self, symbol: str, rejected: RejectCounter, stats: dict[str, int]) -> None:
        self.symbol = symbol
        self.rejected = rejected
        self.stats = stats
        self.book: _CheckBook | None = None
        self.trusted = False  # in sync with a snapshot
        self.lid: int | None = None  # snapshot id the next diff must straddle
        self.prev_u: int | None = None
        self.held: list[Diff] = []
        self.last_ts = 0

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
        if self.trusted:
            self.stats["snapshots_ignored"] = self.stats.get("snapshots_ignored", 0) + 1
            return []
        ts = event_ns(obj, "E", local_ns)
        stale = [d.ts_ns for d in self.held if d.last <= lid]
        fresh = [d.ts_ns for d in self.held if d.last > lid]
        ts = max(ts, self.last_ts, *stale) if stale else max(ts, self.last_ts)
        if fresh:
            ts = min(ts, fresh[0])
        self.book, self.trusted, self.lid, self.prev_u = book, True, lid, None
        self.last_ts = ts
        self.stats["snapshots"] = self.stats.get("snapshots", 0) + 1
        out: list = [BookEvent(ts, self.symbol, bids, asks, True, last_id=lid)]
        held, self.held = self.held, []
        for diff in held:
            out += self.on_diff(diff)
        return out

    def on_diff(self, diff: Diff) -> list:
        if self.book is None or (not self.trusted and self.lid is not None):
            return self._hold(diff)
        if self.lid is not None and self.prev_u is None:
            if diff.last <= self.lid:
                return []
            # USD-M ids are not contiguous per symbol, so there the diff must follow the snapshot (pu <= id)
            reach = diff.prev if diff.prev is not None else diff.first - 1
            if reach > self.lid:
                return self._desync("sequence_gap", diff, f"first diff U={diff.first} pu={diff.prev} after lastUpdateId={self.lid}")
        elif self.prev_u is not None:
            chained = diff.prev == self.prev_u if diff.prev is not None else diff.first == self.prev_u + 1
            if not chained:
                return self._desync("sequence_gap", diff, f"U={diff.first} pu={diff.prev} after u={self.prev_u}")
        if diff.bad is not None:
            return self._desync(diff.bad, None, f"bad diff u={diff.last}")
        if not self.book.apply_or_refuse(diff.bids, diff.asks):
            return self._desync("crossed_book", None, f"diff u={diff.last} would cross the book")
        self.prev_u = diff.last
        self.last_ts = max(self.last_ts, diff.ts_ns)
        return [BookEvent(self.last_ts, self.symbol, diff.bids, diff.asks, False, diff.first, diff.last, diff.prev)]

    def finish(self) -> list:
        """End of data: held diffs are applied unsynced on the last good book, or dropped if none."""
        if not self.held:
            return []
        held, self.held = self.held, []
        if self.book is None:
            for _ in held:
                self.rejected.add("no_snapshot")
            return [FeedStatus(held[-1].ts_ns, FeedState.GAP, f"{self.symbol}: no depth snapshot; {len(held)} diffs unused")]
        return self._go_on_unsynced(held)

    def _go_on_unsynced(self, held: list[Diff]) -> list:
        self.trusted, self.lid, self.prev_u = False, None, None
        out: list = [FeedStatus(max(self.last_ts, held[0].ts_ns), "gap", f"{self.symbol}: no snapshot to resync; book continues unsynced")]
        for diff in held:
            out += self.on_diff(diff)
        return out

    def _hold(self, diff: Diff) -> list:
        self.held.append(diff)
        if len(self.held) <= HOLD_MAX:
            return []
        if self.book is not None:
            held, self.held = self.held, []
            return self._go_on_unsynced(held)
        self.held.pop(0)
        self.rejected.add("no_snapshot")
        return []

    def _desync(self, reason: str, keep: Diff | None, detail: str) -> list:
        self.rejected.add(reason)
        self.stats["gaps"] = self.stats.get("gaps", 0) + 1
        self.trusted, self.lid, self.prev_u = False, -1, None
        self.last_ts = max(self.last_ts, keep.ts_ns if keep else 0)
        if keep is not None:
            self.held.append(keep)
        return [FeedStatus(self.last_ts, FeedState.GAP, f"{self.symbol}: {reason}: {detail}")]


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
