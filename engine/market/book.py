"""A price-level order book per symbol.

Holds levels in dicts (price -> qty) so diffs from any depth apply in O(levels changed), plus
one ascending list of prices per side, kept sorted as levels come and go (bisect; a new or
removed level moves the list's tail in C, and a qty change touches only the dict). Top-of-book
is then a slice, never a sort of the whole book (1,000+ levels on real Binance books), and the
(n, 2) arrays are cached until the next change. Sequence checking (exchange update ids) lives
with the venue that knows the exchange's rule; the book only applies what it is given.
"""

from __future__ import annotations

from bisect import bisect_left, insort

import numpy as np


def _apply_side(levels: dict[float, float], prices: list[float], diff: np.ndarray) -> None:
    """Apply (price, qty) rows to one side: qty 0 deletes the level, anything else sets it.

    The rows are read as Python floats in one `tolist()`: iterating a numpy array row by row
    makes numpy scalars and costs several times the dict and bisect work itself.
    """
    for p, q in diff.tolist():
        if q == 0.0:
            if levels.pop(p, None) is not None:
                del prices[bisect_left(prices, p)]
        else:
            if p not in levels:
                insort(prices, p)
            levels[p] = q


def _array(levels: dict[float, float], prices: list[float]) -> np.ndarray:
    out = np.empty((len(prices), 2), dtype=np.float64)
    out[:, 0] = prices
    out[:, 1] = [levels[p] for p in prices]
    return out


class OrderBook:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._bid_px: list[float] = []  # ascending; the best bid is the last
        self._ask_px: list[float] = []  # ascending; the best ask is the first
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.ts_ns = 0
        self.updates = 0

    def apply_snapshot(self, bids: np.ndarray, asks: np.ndarray, ts_ns: int) -> None:
        self._bids = {p: q for p, q in bids.tolist() if q > 0}
        self._asks = {p: q for p, q in asks.tolist() if q > 0}
        self._bid_px = sorted(self._bids)
        self._ask_px = sorted(self._asks)
        self._touch(ts_ns)

    def apply_diff(self, bids: np.ndarray, asks: np.ndarray, ts_ns: int) -> None:
        _apply_side(self._bids, self._bid_px, bids)
        _apply_side(self._asks, self._ask_px, asks)
        self._touch(ts_ns)

    def _touch(self, ts_ns: int) -> None:
        self._cache.clear()
        self.ts_ns = ts_ns
        self.updates += 1

    def top(self, depth: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """(bids, asks) as (n, 2) arrays of price, qty; bids descending, asks ascending."""
        hit = self._cache.get(depth)
        if hit is not None:
            return hit
        if depth >= 0:  # the best `depth` prices, best first, without copying the rest
            bid_px = self._bid_px[: -depth - 1 : -1]
        else:  # as sorted(...)[:depth] would give
            bid_px = self._bid_px[::-1][:depth]
        out = (_array(self._bids, bid_px), _array(self._asks, self._ask_px[:depth]))
        self._cache[depth] = out
        return out

    @property
    def best_bid(self) -> float | None:
        return self._bid_px[-1] if self._bid_px else None

    @property
    def best_ask(self) -> float | None:
        return self._ask_px[0] if self._ask_px else None

    @property
    def mid(self) -> float | None:
        b, a = self.best_bid, self.best_ask
        if b is None or a is None:
            return None
        return (b + a) / 2.0

    @property
    def is_crossed(self) -> bool:
        b, a = self.best_bid, self.best_ask
        return b is not None and a is not None and b >= a

    @property
    def is_empty(self) -> bool:
        return not self._bids or not self._asks
