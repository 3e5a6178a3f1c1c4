"""Live public market data through ccxt: WebSocket (ccxt.pro) where supported, REST polling otherwise.

Transient failures (network errors, rate limits, exchange unavailable, unparseable responses)
are retried with exponential backoff and jitter (never sooner than a rate-limit answer's
Retry-After asks), announced as FeedStatus("reconnecting") and
FeedStatus("recovered"); after a WebSocket reconnect the missed trades are back-filled with
`fetch_trades(since=last trade)`, de-duplicated by trade id. A symbol whose feed is silent for
`stale_after_s` gets FeedStatus("stale"). Each symbol's statuses name it: the engine pauses
auto-trading while the traded symbol's feed (or the whole venue) is unhealthy, until "recovered".

Events carry the exchange's timestamps. Arrival order is the truth in live, so per symbol an
event is never stamped earlier than the one before it (the clamp is at most the skew between
the exchange's trade and book streams). A book without an exchange timestamp (Binance REST
depth) takes the symbol's latest event time, or the wall clock before any. Book events are
top-of-book snapshots (`book_depth` levels per side): ccxt maintains the full book itself.
ccxt's structures become validated events in engine/venues/ccxt_parse.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from email.utils import parsedate_to_datetime
from typing import Any, AsyncIterator, Callable

import ccxt
import ccxt.async_support
import ccxt.pro

from engine.core.enums import FeedState
from engine.core.events import BarEvent, BookEvent, Event, FeedStatus, InvalidEvent, RejectCounter, TradeEvent
from engine.core.recent_ids import RecentIds
from engine.core.units import NS_PER_MS, TIMEFRAME_NS
from engine.venues.ccxt_parse import book_levels, closed_bars, trade_fields

log = logging.getLogger(__name__)

RETRYABLE = (ccxt.NetworkError, ccxt.BadResponse)  # covers RateLimitExceeded, ExchangeNotAvailable, timeouts
WARMUP_ATTEMPTS = 5
TRADE_ID_WINDOW = 10_000  # trade ids kept per symbol to drop trades delivered twice (watch caches, back-fill)
_END = object()
_UNSET = object()

ExchangeFactory = Callable[[str], Any]


def default_exchange(exchange_id: str, use_websockets: bool = True) -> Any:
    """A ccxt.pro exchange when it exists (it also does REST), else the async REST one."""
    module = ccxt.pro if use_websockets and hasattr(ccxt.pro, exchange_id) else ccxt.async_support
    cls = getattr(module, exchange_id, None)
    if cls is None:
        raise ValueError(f"unknown exchange {exchange_id!r} (not in ccxt)")
    return cls({"enableRateLimit": True})


def retry_after_s(headers: Any) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None if absent or unreadable."""
    value = next((v for k, v in (headers or {}).items() if str(k).lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(str(value)).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


class LiveVenue:
    """A `Venue` over an exchange's public market data. `rejected` counts skipped messages by reason;
    `errors` counts exchange errors by class name."""

    name = "live"

    def __init__(
        self,
        exchange_id: str,
        symbols: tuple[str, ...],
        *,
        stale_after_s: float,
        exchange_factory: ExchangeFactory | None = None,
        use_websockets: bool = True,
        poll_interval_s: float = 1.0,
        book_depth: int = 20,
        history_bars: int = 300,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        if not stale_after_s > 0:
            raise ValueError("stale_after_s must be > 0")
        self.exchange_id = exchange_id
        self.symbols = tuple(symbols)
        self.exchange = exchange_factory(exchange_id) if exchange_factory else default_exchange(exchange_id, use_websockets)
        # ccxt hands an unparseable REST body on to its parsers (which then yield junk), so keep
        # the parsed body to tell a malformed response apart from an empty one
        self.exchange.enableLastJsonResponse = True
        has = getattr(self.exchange, "has", {})
        self.websocket = bool(use_websockets and has.get("watchTrades") and has.get("watchOrderBook"))
        self.stale_after_s = stale_after_s
        self.poll_interval_s = poll_interval_s
        self.book_depth = book_depth
        self.history_bars = history_bars
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.rejected = RejectCounter()
        self.errors: dict[str, int] = {}
        self._stats = {s: {"trades": 0, "book_updates": 0, "gaps": 0, "reconnects": 0} for s in self.symbols}
        self._last_ts = dict.fromkeys(self.symbols, 0)
        self._last_trade_ms: dict[str, int | None] = dict.fromkeys(self.symbols)
        self._seen = {s: RecentIds(TRADE_ID_WINDOW) for s in self.symbols}
        self._activity = dict.fromkeys(self.symbols, 0.0)
        self._stale: set[str] = set()
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task] = []
        self._rng = random.Random()
        self._closed = False

    @property
    def label(self) -> str:
        return "LIVE"

    # -- history --------------------------------------------------------------------------

    async def warmup(self) -> list[BarEvent]:
        """Up to `history_bars` completed bars per symbol for 1m/1h/1d, and 1s where offered."""
        markets = await self._retry_warmup(self._load_markets)
        missing = [s for s in self.symbols if s not in markets]
        if missing:
            raise ValueError(f"{self.exchange_id} does not list {missing}")
        offered = getattr(self.exchange, "timeframes", None) or {}
        now_ms = self.exchange.milliseconds()
        bars: list[BarEvent] = []
        for symbol in self.symbols:
            for tf in (t for t in TIMEFRAME_NS if t in offered):
                try:
                    rows = await self._retry_warmup(self.exchange.fetch_ohlcv, symbol, tf, limit=self.history_bars)
                except ccxt.ExchangeError as exc:
                    self._count_error(exc)
                    log.warning("no %s %s history from %s: %s", symbol, tf, self.exchange_id, type(exc).__name__)
                    continue
                bars += closed_bars(symbol, tf, rows[-self.history_bars :], now_ms, self.rejected)
        return bars

    async def _load_markets(self) -> dict:
        """ccxt caches whatever a load parsed, even from a malformed body: reload until it lists ours."""
        known = self.exchange.markets or {}
        return await self.exchange.load_markets(reload=not all(s in known for s in self.symbols))

    async def _request(self, what: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Await one exchange call. A REST call ("watch..." are not) whose body was not JSON raises
        BadResponse. No await separates ccxt storing the body from this check, so concurrent
        calls cannot see each other's bodies."""
        self.exchange.last_json_response = _UNSET  # stays so when ccxt answered from its cache
        result = await fn(*args, **kwargs)
        if not what.startswith("watch") and self.exchange.last_json_response is None:
            raise ccxt.BadResponse(f"{what}: response is not valid JSON")
        return result

    async def _retry_warmup(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, WARMUP_ATTEMPTS + 1):
            try:
                return await self._request(fn.__name__, fn, *args, **kwargs)
            except RETRYABLE as exc:
                self._count_error(exc)
                if attempt == WARMUP_ATTEMPTS:
                    raise
                await asyncio.sleep(self._retry_delay(exc, attempt)[0])

    # -- streaming ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        if not self._tasks:
            now = time.monotonic()
            self._activity = dict.fromkeys(self.symbols, now)
            for symbol in self.symbols:
                if self.websocket:
                    self._spawn(self._watch_trades, symbol)
                    self._spawn(self._watch_book, symbol)
                else:
                    self._spawn(self._poll, symbol)
            self._tasks.append(asyncio.create_task(self._watchdog()))
            await self._queue.put(FeedStatus(time.time_ns(), FeedState.CONNECTED, f"{self.exchange_id} {'websocket' if self.websocket else 'REST polling'}"))
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            yield item

    def _spawn(self, feed: Callable, symbol: str) -> None:
        self._tasks.append(asyncio.create_task(self._guard(feed, symbol)))

    async def _guard(self, feed: Callable, symbol: str) -> None:
        """Runs one feed once markets are loaded; a non-transient error (e.g. an unknown symbol)
        ends that feed with a reason."""
        try:
            await self._call(symbol, "load markets", self._load_markets)
            await feed(symbol)
        except ccxt.BaseError as exc:
            self._count_error(exc)
            await self._queue.put(FeedStatus(time.time_ns(), FeedState.ENDED, f"{symbol}: {type(exc).__name__}: {str(exc)[:120]}", symbol))

    async def _watch_trades(self, symbol: str) -> None:
        while not self._closed:
            trades, reconnected = await self._call(symbol, "watch trades", self.exchange.watch_trades, symbol)
            since = self._last_trade_ms[symbol]
            if reconnected and since is not None and self.exchange.has.get("fetchTrades"):
                missed, _ = await self._call(symbol, "backfill", self.exchange.fetch_trades, symbol, since=since)
                await self._emit_trades(symbol, missed)
            await self._emit_trades(symbol, trades)

    async def _watch_book(self, symbol: str) -> None:
        while not self._closed:
            book, _ = await self._call(symbol, "watch book", self.exchange.watch_order_book, symbol, self.book_depth)
            await self._emit_book(symbol, book)

    async def _poll(self, symbol: str) -> None:
        """REST: trades since the last one seen, then the book (so the book's time follows the trades)."""
        while not self._closed:
            trades, _ = await self._call(symbol, "trades", self.exchange.fetch_trades, symbol, since=self._last_trade_ms[symbol])
            await self._emit_trades(symbol, trades)
            book, _ = await self._call(symbol, "book", self.exchange.fetch_order_book, symbol, self.book_depth)
            await self._emit_book(symbol, book)
            await asyncio.sleep(self.poll_interval_s)

    async def _call(self, symbol: str, what: str, fn: Callable, *args: Any, **kwargs: Any) -> tuple[Any, bool]:
        """One exchange call, retried with backoff until it succeeds. Returns (result, reconnected)."""
        failures = 0
        while True:
            try:
                result = await self._request(what, fn, *args, **kwargs)
                break
            except ccxt.InvalidNonce as exc:  # the exchange's own sequence check: a book gap
                self._count_error(exc)
                self._stats[symbol]["gaps"] += 1
                failures += 1
                await self._queue.put(FeedStatus(time.time_ns(), FeedState.GAP, f"{symbol} {what}: {type(exc).__name__}", symbol))
            except RETRYABLE as exc:
                self._count_error(exc)
                failures += 1
                delay, why = self._retry_delay(exc, failures)
                await self._queue.put(
                    FeedStatus(time.time_ns(), FeedState.RECONNECTING,
                               f"{symbol} {what}: {type(exc).__name__}; retry {failures} in {delay:.2f}s{why}", symbol)
                )
                await asyncio.sleep(delay)
        if failures:
            self._stats[symbol]["reconnects"] += 1
            await self._queue.put(FeedStatus(time.time_ns(), FeedState.RECOVERED, f"{symbol} {what}: back after {failures} failed attempts", symbol))
        await self._touch(symbol)
        return result, failures > 0

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with 'equal jitter': half fixed, half random."""
        cap = min(self.backoff_max_s, self.backoff_base_s * 2 ** (failures - 1))
        return cap / 2 + self._rng.uniform(0, cap / 2)

    def _retry_delay(self, exc: Exception, failures: int) -> tuple[float, str]:
        """(seconds, note): the backoff, or longer where a rate-limit answer (HTTP 429, or 418
        once Binance bans the IP for retrying too soon) said how long to wait in Retry-After.
        ccxt keeps the failed response's headers; no await separates them from this read."""
        delay = self._backoff(failures)
        if isinstance(exc, ccxt.DDoSProtection):
            asked = retry_after_s(getattr(self.exchange, "last_response_headers", None))
            if asked is not None and asked > delay:
                return asked, " (Retry-After)"
        return delay, ""

    def _count_error(self, exc: Exception) -> None:
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1
        log.warning("%s error: %s", self.exchange_id, name)  # class only: messages may echo request URLs

    async def _touch(self, symbol: str) -> None:
        self._activity[symbol] = time.monotonic()
        if symbol in self._stale:
            self._stale.discard(symbol)
            await self._queue.put(FeedStatus(time.time_ns(), FeedState.RECOVERED, f"{symbol}: data again", symbol))

    async def _watchdog(self) -> None:
        period = min(1.0, self.stale_after_s / 4)
        while not self._closed:
            await asyncio.sleep(period)
            now = time.monotonic()
            for symbol in self.symbols:
                silent = now - self._activity[symbol]
                if silent > self.stale_after_s and symbol not in self._stale:
                    self._stale.add(symbol)
                    await self._queue.put(FeedStatus(time.time_ns(), FeedState.STALE, f"{symbol}: no data for {silent:.1f}s", symbol))

    def _stamp(self, symbol: str, ms: Any) -> int:
        ts = int(ms) * NS_PER_MS if ms is not None else (self._last_ts[symbol] or time.time_ns())
        ts = max(ts, self._last_ts[symbol])
        self._last_ts[symbol] = ts
        return ts

    async def _emit_trades(self, symbol: str, trades: list[dict]) -> None:
        for t in sorted(trades or [], key=lambda t: t.get("timestamp") or 0):
            tid = t.get("id")
            if tid is not None and not self._seen[symbol].add(str(tid)):
                continue
            try:
                price, qty, side = trade_fields(t)
            except InvalidEvent as exc:
                self.rejected.add(exc.reason)
                continue
            if t.get("timestamp") is not None:
                self._last_trade_ms[symbol] = max(self._last_trade_ms[symbol] or 0, int(t["timestamp"]))
            trade_id = int(tid) if str(tid).isdigit() else None
            self._stats[symbol]["trades"] += 1
            await self._queue.put(TradeEvent(self._stamp(symbol, t.get("timestamp")), symbol, price, qty, side, trade_id))

    async def _emit_book(self, symbol: str, book: dict) -> None:
        try:
            bids, asks = book_levels(book, self.book_depth)
        except InvalidEvent as exc:
            self.rejected.add(exc.reason)
            return
        self._stats[symbol]["book_updates"] += 1
        await self._queue.put(BookEvent(self._stamp(symbol, book.get("timestamp")), symbol, bids, asks, True,
                                        last_id=book.get("nonce")))

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.exchange.close()
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_END)

    def stats(self) -> dict[str, dict[str, int]]:
        return {s: dict(v) for s, v in self._stats.items()}
