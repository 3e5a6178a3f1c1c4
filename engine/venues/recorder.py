"""Record a live session in the format the replay venue reads.

Per symbol, one gzip file of `<local_ts_ns> <json>` lines in Binance's combined-stream shape:
`<sym>@trade` messages, a bare depth snapshot line for the first book, then `<sym>@depth`
diffs against the previous book. The live venue hands over top-of-book snapshots, so each diff
is computed here (changed levels, and qty 0 for levels gone); the diffs' U/u ids number the
recording's own book updates (U == previous u + 1), because not every exchange has update ids.
`E`/`T` carry the exchange's timestamps. The exchange's 1m bars for the session (from the
minute of its first event, in exchange time) are written at the end as
`open_time_ms,open,high,low,close,volume` CSV (gzip). File names keep the symbol
(`binance_ethusdt_20240808-235414.gz`) so replay can tell it; symbols whose quote asset
`engine.venues.symbols.QUOTES` does not know need `symbol_overrides` when replayed.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable

import ccxt

from engine.core.events import BookEvent, TradeEvent
from engine.core.units import NS_PER_MS
from engine.venues.live import LiveVenue
from engine.venues.symbols import ccxt_to_stream

log = logging.getLogger(__name__)


def _levels(arr) -> dict[float, float]:
    return {float(p): float(q) for p, q in arr}


class _SymbolWriter:
    """One symbol's recording file."""

    def __init__(self, path: Path, symbol: str) -> None:
        self.path = path
        self.stream = ccxt_to_stream(symbol)
        self._fh: IO[str] = gzip.open(path, "wt", encoding="utf-8")
        self._book: tuple[dict[float, float], dict[float, float]] | None = None
        self._u = 0
        self.trades = 0
        self.book_lines = 0

    def _write(self, obj: dict) -> None:
        self._fh.write(f"{time.time_ns()} {json.dumps(obj, separators=(',', ':'))}\n")

    def trade(self, ev: TradeEvent) -> None:
        ms = ev.ts_ns // NS_PER_MS
        data = {"e": "trade", "E": ms, "T": ms, "s": self.stream.upper(), "t": ev.trade_id,
                "p": repr(ev.price), "q": repr(ev.qty), "m": ev.aggressor.value == "sell"}
        self._write({"stream": f"{self.stream}@trade", "data": data})
        self.trades += 1

    def book(self, ev: BookEvent) -> None:
        ms = ev.ts_ns // NS_PER_MS
        bids, asks = _levels(ev.bids), _levels(ev.asks)
        if self._book is None:
            self._u = 1
            self._write({"lastUpdateId": self._u, "E": ms, "bids": _rows(bids), "asks": _rows(asks)})
        else:
            db, da = _changes(self._book[0], bids), _changes(self._book[1], asks)
            if not db and not da:
                return
            self._u += 1
            data = {"e": "depthUpdate", "E": ms, "s": self.stream.upper(), "U": self._u, "u": self._u, "b": db, "a": da}
            self._write({"stream": f"{self.stream}@depth", "data": data})
        self._book = (bids, asks)
        self.book_lines += 1

    def close(self) -> None:
        self._fh.close()


def _rows(side: dict[float, float]) -> list[list[str]]:
    return [[repr(p), repr(q)] for p, q in side.items()]


def _changes(old: dict[float, float], new: dict[float, float]) -> list[list[str]]:
    rows = [[repr(p), repr(q)] for p, q in new.items() if old.get(p) != q]
    return rows + [[repr(p), "0.0"] for p in old if p not in new]


class Recorder:
    """Records trades and book from `LiveVenue` into `out_dir` (see the module docstring)."""

    def __init__(
        self,
        exchange_id: str,
        symbols: tuple[str, ...],
        out_dir: Path,
        exchange_factory: Callable[[str], Any] | None = None,
        *,
        use_websockets: bool = True,
        poll_interval_s: float = 1.0,
        stale_after_s: float = 30.0,
    ) -> None:
        self.exchange_id = exchange_id
        self.symbols = tuple(symbols)
        self.out_dir = Path(out_dir)
        self.venue = LiveVenue(exchange_id, self.symbols, stale_after_s=stale_after_s, exchange_factory=exchange_factory,
                               use_websockets=use_websockets, poll_interval_s=poll_interval_s)

    async def run(self, duration_s: float | None) -> dict:
        """Record until `duration_s` of wall time has passed (None: until cancelled). Returns a summary."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        writers = {s: _SymbolWriter(self.out_dir / f"{self.exchange_id}_{ccxt_to_stream(s)}_{stamp}.gz", s) for s in self.symbols}
        first_ns: int | None = None  # session start in exchange time
        try:
            async with asyncio.timeout(duration_s):
                async for ev in self.venue.events():
                    if isinstance(ev, (TradeEvent, BookEvent)) and first_ns is None:
                        first_ns = ev.ts_ns
                    if isinstance(ev, TradeEvent):
                        writers[ev.symbol].trade(ev)
                    elif isinstance(ev, BookEvent):
                        writers[ev.symbol].book(ev)
                    else:
                        log.info("recording %s: %s %s", self.exchange_id, getattr(ev, "state", ""), getattr(ev, "detail", ""))
        except TimeoutError:
            pass
        finally:
            for w in writers.values():
                w.close()
            bar_files = await self._write_bars(stamp, first_ns) if first_ns is not None else []
            await self.venue.close()
        return {
            "files": [str(w.path) for w in writers.values()] + bar_files,
            "trades": {s: w.trades for s, w in writers.items()},
            "book_lines": {s: w.book_lines for s, w in writers.items()},
            "rejected": dict(self.venue.rejected.by_reason),
            "errors": dict(self.venue.errors),
        }

    async def _write_bars(self, stamp: str, first_ns: int) -> list[str]:
        """The exchange's completed 1m bars from the minute of the session's first event on."""
        ex = self.venue.exchange
        start_ms = first_ns // NS_PER_MS // 60_000 * 60_000
        now_ms = ex.milliseconds()
        files = []
        for symbol in self.symbols:
            try:
                rows = await ex.fetch_ohlcv(symbol, "1m", since=start_ms)
            except ccxt.BaseError as exc:
                log.warning("no 1m bars for %s: %s", symbol, type(exc).__name__)
                continue
            rows = [r for r in rows if r[0] + 60_000 <= now_ms]
            if not rows:
                continue
            path = self.out_dir / f"{self.exchange_id}_{ccxt_to_stream(symbol)}_1m_{stamp}.csv.gz"
            with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
                out = csv.writer(fh)
                out.writerow(["open_time_ms", "open", "high", "low", "close", "volume"])
                out.writerows([int(r[0]), *r[1:6]] for r in rows)
            files.append(str(path))
        return files
