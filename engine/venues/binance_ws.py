"""Binance raw WebSocket recordings -> engine events, with the book rebuilt by Binance's sync rule.

A recording is gzip text, one `<local_receive_ts_ns> <json>` per line: combined-stream envelopes
(`@depth...` diffs, `@trade`, `@bookTicker`) plus a bare REST depth snapshot line. Files of one
symbol are replayed in order as one stream (the second file of a pair has no snapshot).

Each symbol is read as two independent, lazily parsed streams — book and trades — each
non-decreasing in event time, so the replay venue can heap-merge them exactly. Lines are
attributed to exactly one stream, so a bad line is counted once:
trade lines to the trade stream, everything else except `@bookTicker` to the book stream.

`@bookTicker` is ignored (counted only): it is a derived view of the same book, and the diff-depth
book rebuilt here is the authority. Event time is the exchange's `E` (depth) / `T` (trade) in ms,
falling back to the local receive time, because the recorder's clock lagged the exchange by ~1.3 s.
"""

from __future__ import annotations

import gzip
import heapq
import json
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.core.units import NS_PER_MS
from engine.core.enums import FeedState, Side
from engine.core.events import BookEvent, FeedStatus, InvalidEvent, RejectCounter, TradeEvent, check_price, check_qty

HOLD_MAX = 20_000  # diffs held while waiting for a snapshot; beyond this the book goes on unsynced
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY", "DAI")
_TRADE_MARK = '@trade"'
_BBO_MARK = '@bookTicker"'


def binance_to_ccxt(raw: str) -> str | None:
    """`ETHUSDT` / `ethusdt` -> `ETH/USDT`; None when no known quote asset ends the name."""
    name = raw.upper()
    for quote in QUOTES:
        if name.endswith(quote) and len(name) > len(quote) and name[: -len(quote)].isalnum():
            return f"{name[: -len(quote)]}/{quote}"
    return None


@lru_cache(maxsize=256)
def stream_symbol(stream: str) -> str | None:
    """`ethusdt@depth@100ms` -> `ETH/USDT`."""
    return binance_to_ccxt(stream.partition("@")[0])


def is_recording(path: Path) -> bool:
    """True when the first line looks like `<int ns> {json}` (the recorder's line format)."""
    try:
        first = next(iter_lines(path, RejectCounter()), None)
    except OSError:
        return False
    if first is None:
        return False
    head, _, body = first.partition(" ")
    return head.isdigit() and body.lstrip().startswith("{")


def first_symbol(path: Path, max_lines: int = 200) -> str | None:
    """Symbol of the first combined-stream line (for files whose name does not say)."""
    for i, line in enumerate(iter_lines(path, RejectCounter())):
        if i >= max_lines:
            break
        _, _, body = line.partition(" ")
        try:
            stream = json.loads(body).get("stream")
        except (ValueError, AttributeError):
            continue
        if isinstance(stream, str):
            return stream_symbol(stream)
    return None


def iter_lines(path: Path, rejected: RejectCounter) -> Iterator[str]:
    """Text lines of a gzip or plain file; a truncated gzip tail is counted, not raised."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            yield from fh
    except (EOFError, gzip.BadGzipFile, zlib.error):
        rejected.add("truncated_file")


def _split(line: str) -> tuple[int, dict]:
    """`<ts_ns> <json>` -> (local ts, object). Raises InvalidEvent('malformed')."""
    head, _, body = line.partition(" ")
    try:
        obj = json.loads(body)
        local_ns = int(head)
    except ValueError:
        raise InvalidEvent("malformed", line[:80]) from None
    if not isinstance(obj, dict):
        raise InvalidEvent("malformed", line[:80])
    return local_ns, obj


def _levels(raw) -> np.ndarray:
    """Binance `[[price, qty], ...]` -> (n, 2) float64, validated like BookEvent."""
    try:
        arr = np.array(raw, dtype=np.float64).reshape(-1, 2)
    except (ValueError, TypeError):
        raise InvalidEvent("malformed", "book levels") from None
    if not np.isfinite(arr).all():
        raise InvalidEvent("non_finite_price", "book level not finite")
    if (arr[:, 0] <= 0).any():
        raise InvalidEvent("non_positive_price", "book level price <= 0")
    if (arr[:, 1] < 0).any():
        raise InvalidEvent("bad_qty", "book level qty < 0")
    return arr


def _event_ns(data: dict, key: str, local_ns: int) -> int:
    ms = data.get(key) or data.get("E")
    return int(ms) * NS_PER_MS if ms is not None else local_ns


@dataclass(slots=True)
class _Diff:
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
        self.held: list[_Diff] = []
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
        ts = _event_ns(obj, "E", local_ns)
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

    def on_diff(self, diff: _Diff) -> list:
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

    def _go_on_unsynced(self, held: list[_Diff]) -> list:
        self.trusted, self.lid, self.prev_u = False, None, None
        out: list = [FeedStatus(max(self.last_ts, held[0].ts_ns), "gap", f"{self.symbol}: no snapshot to resync; book continues unsynced")]
        for diff in held:
            out += self.on_diff(diff)
        return out

    def _hold(self, diff: _Diff) -> list:
        self.held.append(diff)
        if len(self.held) <= HOLD_MAX:
            return []
        if self.book is not None:
            held, self.held = self.held, []
            return self._go_on_unsynced(held)
        self.held.pop(0)
        self.rejected.add("no_snapshot")
        return []

    def _desync(self, reason: str, keep: _Diff | None, detail: str) -> list:
        self.rejected.add(reason)
        self.stats["gaps"] = self.stats.get("gaps", 0) + 1
        self.trusted, self.lid, self.prev_u = False, -1, None
        self.last_ts = max(self.last_ts, keep.ts_ns if keep else 0)
        if keep is not None:
            self.held.append(keep)
        return [FeedStatus(self.last_ts, FeedState.GAP, f"{self.symbol}: {reason}: {detail}")]


def _parse_diff(local_ns: int, data: dict) -> _Diff:
    """A depthUpdate payload -> _Diff; bad levels are kept as `bad` so the chain still sees ids."""
    try:
        first, last = int(data["U"]), int(data["u"])
        prev = int(data["pu"]) if "pu" in data else None
        ts = _event_ns(data, "E", local_ns)
    except (KeyError, TypeError, ValueError):
        raise InvalidEvent("malformed", "depth ids") from None
    try:
        return _Diff(ts, first, last, prev, _levels(data.get("b", [])), _levels(data.get("a", [])))
    except InvalidEvent as exc:
        return _Diff(ts, first, last, prev, None, None, bad=exc.reason)


def book_events(paths: list[Path], symbol: str, rejected: RejectCounter, stats: dict[str, int]) -> Iterator:
    """BookEvents (snapshot first, then diffs) and FeedStatus gaps for one symbol's files, in order."""
    sync = BookSync(symbol, rejected, stats)
    own = None  # the stream's symbol key (`ethusdt`); a file holds one symbol, named by `symbol`
    for path in paths:
        for line in iter_lines(path, rejected):
            if _TRADE_MARK in line:
                continue
            if _BBO_MARK in line:
                stats["bbo_lines"] = stats.get("bbo_lines", 0) + 1
                continue
            if not line.strip():
                continue
            try:
                local_ns, obj = _split(line)
                if "lastUpdateId" in obj:
                    out = sync.on_snapshot(local_ns, obj)
                else:
                    stream, data = obj.get("stream"), obj.get("data")
                    if not isinstance(stream, str) or not isinstance(data, dict) or "@depth" not in stream:
                        raise InvalidEvent("unknown_message", line[:80])
                    key = stream.partition("@")[0]
                    if key != (own := own or key):
                        raise InvalidEvent("foreign_symbol", stream)
                    out = sync.on_diff(_parse_diff(local_ns, data))
            except InvalidEvent as exc:
                rejected.add(exc.reason)
                continue
            for ev in out:
                if isinstance(ev, BookEvent):
                    stats["book_updates"] = stats.get("book_updates", 0) + 1
                yield ev
    yield from sync.finish()


def trade_events(paths: list[Path], symbol: str, rejected: RejectCounter, stats: dict[str, int]) -> Iterator[TradeEvent]:
    """TradeEvents from the `@trade` lines of one symbol's files, in event-time order.

    `m` (buyer is maker) means the seller was the aggressor. A trade older than the previous
    one in the same stream is counted `out_of_order` and skipped (never seen in Binance data).
    """
    last_ts = 0
    own = None  # as in book_events
    for path in paths:
        for line in iter_lines(path, rejected):
            if _TRADE_MARK not in line:
                continue
            try:
                local_ns, obj = _split(line)
                data, key = obj.get("data"), str(obj.get("stream")).partition("@")[0]
                if not isinstance(data, dict):
                    raise InvalidEvent("malformed", line[:80])
                if key != (own := own or key):
                    raise InvalidEvent("foreign_symbol", key)
                price = check_price(data["p"])
                qty = check_qty(data["q"])
                ts = _event_ns(data, "T", local_ns)
                trade = TradeEvent(ts, symbol, price, qty, Side.SELL if data["m"] else Side.BUY,
                                   int(data["t"]) if data.get("t") is not None else None)
            except InvalidEvent as exc:
                rejected.add(exc.reason)
                continue
            except (KeyError, TypeError, ValueError):
                rejected.add("malformed")
                continue
            if ts < last_ts:
                rejected.add("out_of_order")
                continue
            last_ts = ts
            stats["trades"] = stats.get("trades", 0) + 1
            yield trade
