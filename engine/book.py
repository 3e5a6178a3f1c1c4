"""A price-level order book per symbol.

Holds levels in dicts (price -> qty) so diffs from any depth apply in O(levels changed), and
caches sorted top-of-book arrays until the next change. Sequence checking (exchange update ids)
lives with the venue that knows the exchange's rule; the book only applies what it is given.
"""

from __future__ import annotations

import numpy as np


class OrderBook:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.ts_ns = 0
        self.updates = 0

    def apply_snapshot(self, bids: np.ndarray, asks: np.ndarray, ts_ns: int) -> None:
        self._bids = {float(p): float(q) for p, q in bids if q > 0}
        self._asks = {float(p): float(q) for p, q in asks if q > 0}
        self._touch(ts_ns)

    def apply_diff(self, bids: np.ndarray, asks: np.ndarray, ts_ns: int) -> None:
        for side, levels in ((self._bids, bids), (self._asks, asks)):
            for p, q in levels:
                if q == 0.0:
                    side.pop(float(p), None)
                else:
                    side[float(p)] = float(q)
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
        bid_px = sorted(self._bids, reverse=True)[:depth]
        ask_px = sorted(self._asks)[:depth]
        bids = np.array([(p, self._bids[p]) for p in bid_px], dtype=np.float64).reshape(-1, 2)
        asks = np.array([(p, self._asks[p]) for p in ask_px], dtype=np.float64).reshape(-1, 2)
        self._cache[depth] = (bids, asks)
        return bids, asks

    @property
    def best_bid(self) -> float | None:
        return max(self._bids) if self._bids else None

    @property
    def best_ask(self) -> float | None:
        return min(self._asks) if self._asks else None

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
