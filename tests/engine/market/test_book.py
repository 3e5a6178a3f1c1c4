"""OrderBook.top() and best bid/ask against a brute-force sort of the levels, after random
snapshots and diffs (new levels, qty changes, deletes with qty 0, deletes of absent levels)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market.book import OrderBook

# A small price grid so diffs often hit existing levels; qty 0 deletes.
PRICES = st.integers(0, 60).map(lambda i: 100.0 + i * 0.5)
QTYS = st.one_of(st.just(0.0), st.floats(0.001, 50.0, allow_nan=False))
LEVELS = st.lists(st.tuples(PRICES, QTYS), max_size=25)
STEP = st.tuples(st.booleans(), LEVELS, LEVELS)  # (is_snapshot, bids, asks)
DEPTHS = (0, 1, 2, 5, 20, 1000)


def arr(rows):
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def brute(levels: dict, depth: int, descending: bool) -> np.ndarray:
    return arr([(p, levels[p]) for p in sorted(levels, reverse=descending)[:depth]])


def check(book: OrderBook, bids: dict, asks: dict) -> None:
    for depth in DEPTHS:
        b, a = book.top(depth)
        assert b.dtype == np.float64 and a.dtype == np.float64 and b.shape[1:] == (2,) and a.shape[1:] == (2,)
        assert np.array_equal(b, brute(bids, depth, True))
        assert np.array_equal(a, brute(asks, depth, False))
        assert book.top(depth)[0] is b  # cached until the next change
    assert book.best_bid == (max(bids) if bids else None)
    assert book.best_ask == (min(asks) if asks else None)
    assert book.is_empty == (not bids or not asks)
    if bids and asks:
        assert book.mid == (max(bids) + min(asks)) / 2
        assert book.is_crossed == (max(bids) >= min(asks))


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=30), st.sampled_from(DEPTHS))
def test_top_matches_brute_force_sort(steps, probe_depth):
    book = OrderBook("ETH/USDT")
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for ts, (is_snapshot, b, a) in enumerate(steps, 1):
        if probe_depth:
            book.top(probe_depth)  # a cached top must not survive the change
        if is_snapshot:
            book.apply_snapshot(arr(b), arr(a), ts)
            bids = {p: q for p, q in b if q > 0}
            asks = {p: q for p, q in a if q > 0}
        else:
            book.apply_diff(arr(b), arr(a), ts)
            for side, rows in ((bids, b), (asks, a)):
                for p, q in rows:
                    if q == 0.0:
                        side.pop(p, None)
                    else:
                        side[p] = q
        assert book.ts_ns == ts and book.updates == ts
        check(book, bids, asks)


def test_deep_book_top_and_full_depth():
    rng = np.random.default_rng(7)
    px = np.round(rng.uniform(1000, 3000, 3000), 2)
    book = OrderBook("ETH/USDT")
    bids = arr([(p, 1.0) for p in px[px < 2000]])
    asks = arr([(p, 2.0) for p in px[px >= 2000]])
    book.apply_snapshot(bids, asks, 1)
    b, a = book.top(20)
    assert np.array_equal(b[:, 0], np.sort(np.unique(bids[:, 0]))[::-1][:20])
    assert np.array_equal(a[:, 0], np.sort(np.unique(asks[:, 0]))[:20])
    # delete the best bid and add a better ask: the top moves with them
    book.apply_diff(arr([(b[0, 0], 0.0)]), arr([(a[0, 0] - 0.005, 3.0)]), 2)
    b2, a2 = book.top(20)
    assert b2[0, 0] == b[1, 0] and a2[0, 0] == a[0, 0] - 0.005 and a2[0, 1] == 3.0
    full_b, full_a = book.top(1000)
    assert len(full_b) == 1000 and np.all(np.diff(full_b[:, 0]) < 0) and np.all(np.diff(full_a[:, 0]) > 0)
    assert book.best_bid == b2[0, 0] and book.best_ask == a2[0, 0]
