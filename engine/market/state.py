"""Market state: per-symbol bars, order book, last trade, and event bookkeeping.

The engine feeds every venue event through `MarketState.apply`, which validates it, holds it
to the sanity band, skips duplicates (by trade id, within a window) and out-of-order events
(all counted by reason), and updates bars and books. The state
builder and the UI read from here; nothing here knows where the events came from.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.core.enums import FeedState, Side
from engine.market.bars import BarAggregator
from engine.market.book import OrderBook
from engine.core.clock import EventClock
from engine.core.events import BarEvent, BookEvent, Event, FeedStatus, InvalidEvent, RejectCounter, TradeEvent
from engine.core.recent_ids import RecentIds
from engine.market.sanity import SanityBand
from engine.config import SanitySettings

log = logging.getLogger(__name__)

TICK_WINDOW = 4096  # recent trades kept per symbol (for tick features and the UI)
TRADE_ID_WINDOW = 10_000  # trade ids kept per symbol to drop trades delivered twice


@dataclass(slots=True)
class SymbolCounters:
    """Events applied per kind, for the market pane and the session summary."""

    trades: int = 0
    book_updates: int = 0


class SymbolMarket:
    """Everything known about one symbol."""

    def __init__(self, symbol: str, bar_capacity: int) -> None:
        self.symbol = symbol
        self.bars = BarAggregator(symbol, capacity=bar_capacity)
        self.book = OrderBook(symbol)
        self.counters = SymbolCounters()
        self.last_trade: TradeEvent | None = None
        self.last_ts_ns = 0
        self.trade_ids = RecentIds(TRADE_ID_WINDOW)
        # recent trades as a ring: ts_ns, price, qty, +1 buy / -1 sell
        self.ticks = np.zeros((TICK_WINDOW, 4), dtype=np.float64)
        self.tick_count = 0

    @property
    def last_price(self) -> float | None:
        if self.last_trade is not None:
            return self.last_trade.price
        return self.bars.last_price

    @property
    def mid(self) -> float | None:
        return self.book.mid if not self.book.is_empty else self.last_price

    def recent_ticks(self, n: int | None = None) -> np.ndarray:
        held = min(self.tick_count, TICK_WINDOW)
        n = held if n is None else min(n, held)
        end = self.tick_count % TICK_WINDOW
        if n <= end:  # the newest n do not wrap: one slice
            return self.ticks[end - n : end].copy()
        return np.concatenate((self.ticks[TICK_WINDOW - (n - end) :], self.ticks[:end]))


class MarketState:
    def __init__(self, symbols: tuple[str, ...], clock: EventClock, bar_capacity: int = 300,
                 sanity: SanitySettings | None = None) -> None:
        """`sanity`: the `[sanity]` limits; without them only validation guards the data."""
        self.clock = clock
        self.symbols = symbols
        self.by_symbol = {s: SymbolMarket(s, bar_capacity) for s in symbols}
        self.rejected = RejectCounter()
        self.band = SanityBand(sanity, self.rejected) if sanity is not None else None
        self.events = 0
        self.feed_state = FeedState.STARTING  # the last state announced, for display
        self.feed_detail = ""
        self._venue_feed = FeedState.STARTING  # the last whole-venue state
        self._symbol_feed: dict[str, FeedState] = {}  # per-symbol states announced since
        self.price_history: dict[str, deque[tuple[int, float]]] = {s: deque(maxlen=600) for s in symbols}
        self._last_hist_s: dict[str, int] = {s: -1 for s in symbols}

    def __getitem__(self, symbol: str) -> SymbolMarket:
        return self.by_symbol[symbol]

    def load_history(self, bars: list[BarEvent]) -> None:
        """Warm-up bars go straight into their own timeframe's ring (no roll-up)."""
        for bar in bars:
            try:
                bar.validate()
                if self.band is not None:
                    self.band.check_history(bar)
            except InvalidEvent as exc:
                self.rejected.add(exc.reason)
                continue
            m = self.by_symbol.get(bar.symbol)
            if m is None:
                continue
            ring = m.bars.rings.get(bar.timeframe)
            if ring is None:
                continue
            last = ring.last_open_ns
            if last is not None and bar.ts_ns <= last:
                self.rejected.add("out_of_order")
                continue
            ring.append((bar.ts_ns / 1e9, bar.open, bar.high, bar.low, bar.close, bar.volume, np.nan, np.nan))
            m.bars.last_price = bar.close

    def announce(self, state: FeedState, detail: str = "", symbol: str | None = None) -> None:
        """A feed state: one symbol's, or the whole venue's (which supersedes every symbol's)."""
        self.feed_state, self.feed_detail = state, detail
        if symbol is None:
            self._venue_feed = state
            self._symbol_feed.clear()
        else:
            self._symbol_feed[symbol] = state

    def feed_of(self, symbol: str) -> FeedState:
        """The state of one symbol's feed: the venue's while the venue as a whole is not
        healthy or has ended, else the symbol's own last state. Why per symbol: a reference
        symbol recovering must not resume auto-trading while the traded one is still stale."""
        venue = self._venue_feed
        if not venue.healthy or venue in (FeedState.ENDED, FeedState.STOPPED):
            return venue
        return self._symbol_feed.get(symbol, venue)

    def apply(self, event: Event) -> bool:
        """Apply one event. Returns False (and counts why) when it was skipped."""
        if isinstance(event, FeedStatus):
            self.announce(event.state, event.detail, event.symbol)
            return True
        m = self.by_symbol.get(event.symbol)
        if m is None:
            self.rejected.add("unknown_symbol")
            return False
        try:
            event.validate()
            if self.band is not None:  # engine/market/sanity.py: may leave bad book levels out
                event = self.band.check(event, m.last_price, m.book)
        except InvalidEvent as exc:
            self.rejected.add(exc.reason)
            log.warning("rejected %s event: %s", event.symbol, exc)
            return False
        if event.ts_ns < m.last_ts_ns:
            self.rejected.add("out_of_order")
            return False
        if isinstance(event, TradeEvent):
            if event.trade_id is not None and not m.trade_ids.add(event.trade_id):
                self.rejected.add("duplicate")
                return False
            is_buy = event.aggressor is Side.BUY
            m.bars.on_trade(event.ts_ns, event.price, event.qty, is_buy)
            m.ticks[m.tick_count % TICK_WINDOW] = (event.ts_ns, event.price, event.qty, 1.0 if is_buy else -1.0)
            m.tick_count += 1
            m.last_trade = event
            m.counters.trades += 1
            self._record_price(event.symbol, event.ts_ns, event.price)
        elif isinstance(event, BookEvent):
            if event.is_snapshot:
                m.book.apply_snapshot(event.bids, event.asks, event.ts_ns)
            else:
                m.book.apply_diff(event.bids, event.asks, event.ts_ns)
            m.counters.book_updates += 1
            if m.last_trade is None and m.book.mid is not None:
                self._record_price(event.symbol, event.ts_ns, m.book.mid)
        elif isinstance(event, BarEvent):
            last = m.bars.rings[event.timeframe].last_open_ns if event.timeframe in m.bars.rings else None
            if last is not None and event.ts_ns <= last:
                self.rejected.add("duplicate")
                return False
            m.bars.on_bar(event)
            self._record_price(event.symbol, event.end_ns, event.close)
        m.last_ts_ns = event.ts_ns
        if self._venue_feed is FeedState.STARTING:
            self.announce(FeedState.STREAMING)  # venues that announce nothing are healthy once data flows
        self.clock.advance_to(event.ts_ns if not isinstance(event, BarEvent) else event.end_ns)
        now = self.clock.now_ns()
        for other in self.by_symbol.values():
            other.bars.advance(now)
        self.events += 1
        return True

    def _record_price(self, symbol: str, ts_ns: int, price: float) -> None:
        """One price point per second of event time for the UI chart."""
        sec = ts_ns // 1_000_000_000
        hist = self.price_history[symbol]
        if sec == self._last_hist_s[symbol] and hist:
            hist[-1] = (ts_ns, price)
        else:
            hist.append((ts_ns, price))
            self._last_hist_s[symbol] = sec
