"""The sanity band: prices and sizes no real market prints are refused before they are applied.

Validation (engine/core/events.py) refuses what is not a number at all: NaN, inf, <= 0. This
band refuses numbers that are finite but cannot be a market: a price of 1e300 or 1e-300, a
size of 1e-300, a notional of 1e303, or a price ten times the symbol's last good one. Such a
print once reached the models and disabled them for the session; here it is counted by reason
(`price_out_of_range`, `size_out_of_range`, `price_out_of_band`) and never applied.

The relative band compares a trade, a bar (its open and close: a real wick may reach far,
a corrupt one is held by the absolute limits) and a book diff's level that would become the
touch (a bid above the best bid, an ask below the best ask) with the symbol's last good price:
the last trade or bar, or the book's mid where neither was seen. Its factor is
`max_price_ratio` within `band_interval_s` of that price and widens with the square root of
the time since, as price moves do. Deeper book levels, and snapshots (which replace the book),
are held to the absolute limits only: real books carry bids at a third of the price. A real
jump must not be refused forever, so `reanchor_after` out-of-band prices in a row that agree
with each other (each within the band of the first) are taken as the new level: the last of
them is accepted and becomes the reference. The absolute limits never move, so no run of
1e300 prints re-anchors. The limits live in config.toml `[sanity]`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np

from engine.config import SanitySettings
from engine.core.events import BarEvent, BookEvent, Event, InvalidEvent, RejectCounter, TradeEvent
from engine.core.units import NS_PER_S, TIMEFRAME_NS
from engine.market.book import OrderBook

log = logging.getLogger(__name__)

LOOP_MAX = 32  # levels checked one by one; larger arrays are screened with numpy first


class SanityBand:
    """Checks events against the `[sanity]` limits. Keeps, per symbol, when its last good
    price was seen and the current run of out-of-band prices that may re-anchor the band."""

    def __init__(self, limits: SanitySettings, rejected: RejectCounter) -> None:
        self.limits = limits
        self.rejected = rejected  # where levels taken out of a book event are counted
        self._log_ratio = math.log(limits.max_price_ratio)
        self._seen_ns: dict[str, int] = {}  # symbol -> event time of the last price the band passed
        self._runs: dict[str, tuple[float, int]] = {}  # symbol -> (first out-of-band price, run length)

    def check(self, event: Event, last_price: float | None, book: OrderBook) -> Event:
        """The event to apply: `event` itself, or a book event without its levels outside the
        band (counted here by reason: the rest of the diff is good data, and the venue's own
        book has applied it). Raise InvalidEvent (with the reason to count) for a trade or bar
        outside the band. `last_price` is the symbol's last trade or bar price, `book` its
        order book now."""
        reference = last_price if last_price is not None else book.mid
        if isinstance(event, TradeEvent):
            self._price(event.price, "price")
            self._size(event.price, event.qty, self.limits.max_notional, "qty")
            self._banded(event, event.price, (event.price,), reference)
        elif isinstance(event, BookEvent):
            ratio = None if event.is_snapshot or reference is None else self._ratio(event)
            bids, bid_reason = self._clean_side(event.bids, True, book.best_bid, reference, ratio)
            asks, ask_reason = self._clean_side(event.asks, False, book.best_ask, reference, ratio)
            reason = bid_reason or ask_reason
            if reason is not None:
                self.rejected.add(reason)
                log.warning("%s book levels left out: %s (last good price %s)", event.symbol, reason, reference)
                return replace(event, bids=bids, asks=asks)
        elif isinstance(event, BarEvent):
            self.check_history(event)
            # open and close only: a real wick (high, low) may reach far, a corrupt one is held by the range
            self._banded(event, event.close, (event.open, event.close), reference)
        return event

    def check_history(self, bar: BarEvent) -> None:
        """The absolute limits for a bar; raise InvalidEvent outside them. Warm-up history
        comes a timeframe at a time, not in time order, so it has no last good price to
        compare with."""
        for name in ("open", "high", "low", "close"):
            self._price(getattr(bar, name), name)
        seconds = TIMEFRAME_NS[bar.timeframe] / NS_PER_S
        self._size(bar.close, bar.volume, self.limits.max_notional * seconds, "volume", allow_zero=True)

    def _price(self, price: float, what: str) -> None:
        if not self.limits.min_price <= price <= self.limits.max_price:
            raise InvalidEvent("price_out_of_range",
                               f"{what} {price:g} outside [{self.limits.min_price:g}, {self.limits.max_price:g}]")

    def _size(self, price: float, qty: float, max_notional: float, what: str, allow_zero: bool = False) -> None:
        if (qty < self.limits.min_qty and not (allow_zero and qty == 0.0)) or price * qty > max_notional:
            raise InvalidEvent("size_out_of_range", f"{what} {qty:g} at {price:g} (min {self.limits.min_qty:g}, "
                                                    f"notional at most {max_notional:g})")

    def _clean_side(self, levels: np.ndarray, is_bid: bool, best: float | None, reference: float | None,
                    ratio: float | None) -> tuple[np.ndarray, str | None]:
        """One side's levels without those outside the limits, and the reason of the gravest
        kind found. Levels with qty 0 only delete and pass. A level that becomes the touch (a
        bid above the best bid, an ask below the best ask) must also be within `ratio` of
        `reference`; deeper ones may sit far off, as they do in real books. A plain loop: a
        diff holds a handful of levels, where each numpy call would cost more than the loop."""
        if levels.size == 0:
            return levels, None
        lim = self.limits
        lo, hi = (reference / ratio, reference * ratio) if ratio is not None and reference is not None else (None, None)
        if len(levels) > LOOP_MAX and not self._may_hold_bad(levels, is_bid, best, lo, hi):
            return levels, None
        bad: list[int] = []
        found: set[str] = set()
        for j, (p, q) in enumerate(levels.tolist()):
            if q <= 0.0:
                continue
            if not lim.min_price <= p <= lim.max_price:
                found.add("price_out_of_range")
            elif q < lim.min_qty or p * q > lim.max_notional:
                found.add("size_out_of_range")
            elif lo is not None and not lo <= p <= hi and (best is None or (p > best if is_bid else p < best)):
                found.add("price_out_of_band")
            else:
                continue
            bad.append(j)
        if not bad:
            return levels, None
        reason = next(r for r in ("price_out_of_range", "size_out_of_range", "price_out_of_band") if r in found)
        return np.delete(levels, bad, axis=0), reason

    def _may_hold_bad(self, levels: np.ndarray, is_bid: bool, best: float | None, lo: float | None,
                      hi: float | None) -> bool:
        """A screen for large level arrays (snapshots, busy diffs) in a few numpy reductions:
        False when no level can be outside the limits, so the exact loop is skipped."""
        live = levels[levels[:, 1] > 0.0]
        if live.size == 0:
            return False
        px, qty, lim = live[:, 0], live[:, 1], self.limits
        if px.min() < lim.min_price or px.max() > lim.max_price or qty.min() < lim.min_qty \
                or (px * qty).max() > lim.max_notional:
            return True
        if lo is None:
            return False
        touch = px if best is None else px[px > best] if is_bid else px[px < best]
        return bool(touch.size) and (touch.min() < lo or touch.max() > hi)

    def _ratio(self, event: Event) -> float:
        """The band's factor for `event`: max_price_ratio within band_interval_s of the last
        good price, widening with the square root of the time since (as price moves do)."""
        seen = self._seen_ns.get(event.symbol)
        gap_s = (event.ts_ns - seen) / NS_PER_S if seen is not None else 0.0
        if gap_s <= self.limits.band_interval_s:
            return self.limits.max_price_ratio
        return math.exp(self._log_ratio * math.sqrt(gap_s / self.limits.band_interval_s))

    @staticmethod
    def _within(price: float, reference: float, ratio: float) -> bool:
        return reference / ratio <= price <= reference * ratio

    def _banded(self, event: TradeEvent | BarEvent, price: float, points: tuple[float, ...], reference: float | None) -> None:
        """Refuse `points` outside the band around `reference`, unless `price` completes a run
        of `reanchor_after` out-of-band prices that agree with each other."""
        symbol, ratio = event.symbol, self._ratio(event)
        if reference is None or all(self._within(p, reference, ratio) for p in points):
            self._runs.pop(symbol, None)
            self._seen_ns[symbol] = max(event.ts_ns, self._seen_ns.get(symbol, 0))
            return
        first, count = self._runs.get(symbol, (price, 0))
        if not self._within(price, first, self.limits.max_price_ratio):
            first, count = price, 0
        count += 1
        if count >= self.limits.reanchor_after:  # the market has moved: this price is the new reference
            self._runs.pop(symbol, None)
            self._seen_ns[symbol] = max(event.ts_ns, self._seen_ns.get(symbol, 0))
            return
        self._runs[symbol] = (first, count)
        raise InvalidEvent("price_out_of_band", f"{symbol} {price:g} vs last good {reference:g} "
                                                f"(x{ratio:.3g} band; {count} in a row)")
