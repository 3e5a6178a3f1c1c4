"""The sanity band: prices and sizes no real market prints are refused before they are applied.

Validation (engine/core/events.py) refuses what is not a number at all: NaN, inf, <= 0. This
band refuses numbers that are finite but cannot be a market: a price of 1e300 or 1e-300, a
size of 1e-300, a notional of 1e303, or a price ten times the symbol's last good one. Such a
print once reached the models and disabled them for the session; here it is counted by reason
(`price_out_of_range`, `size_out_of_range`, `price_out_of_band`) and never applied.

The relative band compares a trade, a bar (its high and low) and the touch of a book diff
(its highest bid and lowest ask) with the symbol's last good price: the last trade or bar, or
the book's mid where neither was seen. A book snapshot replaces the book, so it is held to the
absolute limits only. A real jump (data resuming after a long gap) must not be refused
forever, so `reanchor_after` out-of-band prices in a row that agree with each other (each
within the band of the first) are taken as the new level: the last of them is accepted and
becomes the reference. The absolute limits never move, so no run of 1e300 prints re-anchors.
The limits live in config.toml `[sanity]`.
"""

from __future__ import annotations

import numpy as np

from engine.config import SanitySettings
from engine.core.events import BarEvent, BookEvent, Event, InvalidEvent, TradeEvent
from engine.core.units import NS_PER_S, TIMEFRAME_NS


class SanityBand:
    """Checks events against the `[sanity]` limits; keeps, per symbol, the current run of
    out-of-band prices that may re-anchor the band."""

    def __init__(self, limits: SanitySettings) -> None:
        self.limits = limits
        self._runs: dict[str, tuple[float, int]] = {}  # symbol -> (first out-of-band price, run length)

    def check(self, event: Event, last_price: float | None, book_mid: float | None) -> None:
        """Raise InvalidEvent (with the reason to count) if `event` is outside the band."""
        reference = last_price if last_price is not None else book_mid
        if isinstance(event, TradeEvent):
            self._price(event.price, "price")
            self._size(event.price, event.qty, self.limits.max_notional, "qty")
            self._banded(event.symbol, event.price, event.price, reference)
        elif isinstance(event, BookEvent):
            bid = self._levels(event.bids, "bid")
            ask = self._levels(event.asks, "ask")
            if not event.is_snapshot and reference is not None:
                for touch, what in ((bid, "bid"), (ask, "ask")):
                    if touch is not None and not self._within(touch, reference):
                        raise InvalidEvent("price_out_of_band", f"{event.symbol} {what} {touch:g} vs last good {reference:g}")
        elif isinstance(event, BarEvent):
            for name in ("high", "low"):
                self._price(getattr(event, name), name)
            seconds = TIMEFRAME_NS[event.timeframe] / NS_PER_S
            self._size(event.close, event.volume, self.limits.max_notional * seconds, "volume", allow_zero=True)
            self._banded(event.symbol, event.close, (event.low, event.high), reference)

    def _price(self, price: float, what: str) -> None:
        if not self.limits.min_price <= price <= self.limits.max_price:
            raise InvalidEvent("price_out_of_range",
                               f"{what} {price:g} outside [{self.limits.min_price:g}, {self.limits.max_price:g}]")

    def _size(self, price: float, qty: float, max_notional: float, what: str, allow_zero: bool = False) -> None:
        if (qty < self.limits.min_qty and not (allow_zero and qty == 0.0)) or price * qty > max_notional:
            raise InvalidEvent("size_out_of_range", f"{what} {qty:g} at {price:g} (min {self.limits.min_qty:g}, "
                                                    f"notional at most {max_notional:g})")

    def _levels(self, levels: np.ndarray, side: str) -> float | None:
        """Check the levels an event sets (qty > 0; a qty-0 level only deletes) and return the
        event's touch on this side: the highest bid or the lowest ask, None if it sets none."""
        if levels.size == 0:
            return None
        live = levels[levels[:, 1] > 0.0]
        if live.size == 0:
            return None
        px, qty = live[:, 0], live[:, 1]
        lo, hi = float(px.min()), float(px.max())
        self._price(lo, f"{side} level")
        self._price(hi, f"{side} level")
        if float(qty.min()) < self.limits.min_qty or float((px * qty).max()) > self.limits.max_notional:
            raise InvalidEvent("size_out_of_range", f"{side} level size outside [{self.limits.min_qty:g}, "
                                                    f"notional {self.limits.max_notional:g}]")
        return hi if side == "bid" else lo

    def _within(self, price: float, reference: float) -> bool:
        ratio = self.limits.max_price_ratio
        return reference / ratio <= price <= reference * ratio

    def _banded(self, symbol: str, price: float, extremes: float | tuple[float, float], reference: float | None) -> None:
        """Refuse `extremes` outside the band around `reference`, unless `price` completes a
        run of `reanchor_after` out-of-band prices that agree with each other."""
        points = extremes if isinstance(extremes, tuple) else (extremes,)
        if reference is None or all(self._within(p, reference) for p in points):
            self._runs.pop(symbol, None)
            return
        first, count = self._runs.get(symbol, (price, 0))
        if not self._within(price, first):
            first, count = price, 0
        count += 1
        if count >= self.limits.reanchor_after:
            self._runs.pop(symbol, None)
            return  # the market has moved: this price is the symbol's new reference
        self._runs[symbol] = (first, count)
        raise InvalidEvent("price_out_of_band", f"{symbol} {price:g} vs last good {reference:g} "
                                                f"(x{self.limits.max_price_ratio:g} band; {count} in a row)")
