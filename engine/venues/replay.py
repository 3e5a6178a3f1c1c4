"""Replay recorded market data files as one event stream, merged by event time.

Each file's format is detected: Binance raw WebSocket recordings (`<ts_ns> <json>` lines, also
what `engine.venues.recorder` writes) or bar files (kline zips / OHLCV CSVs). Recording files of the
same series (same file name once the dates are taken out, e.g. `spot_ethusdt_20240808.gz` and
`..._20240809.gz`) are replayed back to back as one stream, ordered by their first line, so the
book stays in sync across the file boundary. Every stream is non-decreasing in event time, so a
heap merge gives one ordered stream; bars are keyed by their close time (when they are known).

Bars-only data drives the engine through BarEvents alone: no ticks and no order book.
`warmup()` returns no history: replay starts cold and builds its history from the events
themselves, so nothing from the future leaks into the first decisions.
"""

from __future__ import annotations

import asyncio
import heapq
import re
from pathlib import Path
from typing import AsyncIterator, Iterator

from engine.core.enums import FeedState
from engine.core.events import BarEvent, Event, FeedStatus, RejectCounter
from engine.venues import binance_ws, klines
from engine.venues.symbols import symbol_from_name

YIELD_EVERY = 2048  # events between hand-backs to the event loop
_DATES = re.compile(r"\d{6,8}")
_STAT_KEYS = ("trades", "book_updates", "gaps", "bars")


def _event_time(ev: Event) -> int:
    return ev.end_ns if isinstance(ev, BarEvent) else ev.ts_ns


def _first_local_ns(path: Path) -> int:
    line = next(binance_ws.iter_lines(path, RejectCounter()), "")
    head = line.partition(" ")[0]
    return int(head) if head.isdigit() else 0


def _check_not_empty(path: Path) -> None:
    """An empty recording is an error at the start (ValueError naming the file), not a silent
    session of 0 events."""
    rejected = RejectCounter()
    if next((line for line in binance_ws.iter_lines(path, rejected) if line.strip()), None) is None:
        why = "not a readable gzip file" if rejected.total else "the file is empty"
        raise ValueError(f"{path.name}: no data: {why}")


class ReplayVenue:
    """A `Venue` over recorded files. `rejected` counts what the parsers skipped, by reason."""

    name = "replay"

    def __init__(
        self,
        paths: list[Path],
        symbols: tuple[str, ...] | None = None,
        symbol_overrides: dict[Path, str] | None = None,
    ) -> None:
        if not paths:
            raise ValueError("replay needs at least one data file")
        overrides = {Path(p).resolve(): s for p, s in (symbol_overrides or {}).items()}
        self.rejected = RejectCounter()
        self._recordings: dict[str, list[Path]] = {}  # symbol -> files in replay order
        self._bars: list[tuple[str, Path]] = []
        series_of: dict[str, str] = {}  # symbol -> series key, to refuse two sources for one symbol
        for raw in paths:
            path = Path(raw)
            if not path.is_file():
                raise ValueError(f"data file not found: {path}")
            forced = overrides.get(path.resolve())
            if not klines.is_bar_file(path):
                _check_not_empty(path)
            if binance_ws.is_recording(path):
                sym = forced or symbol_from_name(path) or binance_ws.first_symbol(path)
                if sym is None:
                    raise ValueError(f"{path.name}: cannot tell the symbol; pass symbol_overrides")
                series = _DATES.sub("", path.name)
                if series_of.setdefault(sym, series) != series:
                    raise ValueError(f"{sym} comes from two different recordings ({series_of[sym]!r}, {series!r}); "
                                     "replay one, or name them apart with symbol_overrides")
                self._recordings.setdefault(sym, []).append(path)
            elif klines.is_bar_file(path):
                sym = forced or symbol_from_name(path)
                if sym is None:
                    raise ValueError(f"{path.name}: cannot tell the symbol; pass symbol_overrides")
                klines.check_bar_file(path, sym)
                self._bars.append((sym, path))
            else:
                raise ValueError(f"{path.name}: unknown data format (expected a Binance WS recording or a kline/OHLCV CSV)")
        for files in self._recordings.values():
            files.sort(key=_first_local_ns)
        found = set(self._recordings) | {s for s, _ in self._bars}
        if symbols is not None:
            extra = sorted(found - set(symbols))
            if extra:
                raise ValueError(f"data holds {extra}, which are not among the symbols {list(symbols)}")
        self.symbols: tuple[str, ...] = tuple(symbols) if symbols is not None else tuple(sorted(found))
        self._stats: dict[str, dict[str, int]] = {}
        self._closed = False

    @property
    def label(self) -> str:
        return "REPLAY"

    async def warmup(self) -> list[BarEvent]:
        return []

    def iter_events(self) -> Iterator[Event]:
        """All events, merged in event-time order (synchronous; `events()` wraps it)."""
        self._stats = {s: dict.fromkeys(_STAT_KEYS, 0) for s in self.symbols}
        streams: list[Iterator[Event]] = []
        for sym, files in self._recordings.items():
            st = self._stats[sym]
            streams.append(binance_ws.book_events(files, sym, self.rejected, st))
            streams.append(binance_ws.trade_events(files, sym, self.rejected, st))
        for sym, path in self._bars:
            streams.append(self._counted_bars(sym, path))
        return heapq.merge(*streams, key=_event_time)

    def _counted_bars(self, symbol: str, path: Path) -> Iterator[BarEvent]:
        st = self._stats[symbol]
        for bar in klines.read_bars(path, symbol, rejected=self.rejected):
            st["bars"] += 1
            yield bar

    async def events(self) -> AsyncIterator[Event]:
        last_ns = 0
        for i, ev in enumerate(self.iter_events(), 1):
            if self._closed:
                return
            last_ns = _event_time(ev)
            yield ev
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        yield FeedStatus(last_ns, FeedState.ENDED, "end of recorded data")

    async def close(self) -> None:
        self._closed = True

    def stats(self) -> dict[str, dict[str, int]]:
        return {s: dict(v) for s, v in self._stats.items()}

    def span_ns(self) -> tuple[int, int] | None:
        """(first, last) event time the files hold, for progress against the whole replay.
        Reads every file once more (blocking: call it in a thread); recordings by their local
        receive times, bar files by their good bars' close times. None when nothing is readable."""
        ends: list[int] = []
        for files in self._recordings.values():
            for path in files:
                first = last = None
                for line in binance_ws.iter_lines(path, RejectCounter()):
                    head = line.partition(" ")[0]
                    if head.isdigit():
                        first, last = first or head, head
                ends.extend(int(t) for t in (first, last) if t is not None)
        for sym, path in self._bars:
            first = last = None
            for bar in klines.read_bars(path, sym, rejected=RejectCounter()):
                first = bar.end_ns if first is None else first
                last = bar.end_ns
            ends.extend(t for t in (first, last) if t is not None)
        return (min(ends), max(ends)) if ends else None
