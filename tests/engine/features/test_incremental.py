"""The incremental state build gives exactly the state a build from scratch gives.

The builder keeps blocks whose inputs did not change (bar blocks per ring version, the pivot
block per bar close, the running vector and market tensor); the models must see the same
numbers as if every block were computed afresh. A fresh `StateBuilder` has no cache at all,
so on data short enough that no ring has dropped a bar (its pivot chains then see every bar
the long-lived builder saw) the two must agree bit for bit. Past that point, builders that
build at different rates must still agree wherever both build.
"""

import heapq
from itertools import islice

import numpy as np
import pytest

from engine.core.clock import EventClock
from engine.core.units import NS_PER_S
from engine.features.builder import State, StateBuilder
from engine.market.state import MarketState
from engine.venues.klines import read_bars
from engine.venues.replay import ReplayVenue
from tests.recorded import KLINES_1M, WS_DAY1

SYMS = ("ETH/USDT", "BTC/USDT")
LONG = {"side": 1, "qty": 0.5, "entry_price": 2600.0, "entry_ns": 0, "configured_qty": 1.0,
        "equity": 10_000.0, "start_equity": 9_900.0}


def assert_same_state(a: State, b: State) -> None:
    assert a.ts_ns == b.ts_ns
    assert np.array_equal(a.vector, b.vector)
    assert np.array_equal(a.market_tensor, b.market_tensor)
    assert list(a.masks) == list(b.masks)
    for name in a.masks:
        assert np.array_equal(a.masks[name], b.masks[name]), name


def _bar_events(shared_data, history: int, replay: int):
    streams = {s: list(islice(read_bars(shared_data / f, s), history + replay)) for s, f in KLINES_1M.items()}
    history_bars = [b for bars in streams.values() for b in bars[:history]]
    events = list(heapq.merge(*(bars[history:] for bars in streams.values()), key=lambda b: b.end_ns))
    return history_bars, events


def test_cached_build_equals_fresh_build_on_1m_bars(shared_data):
    """200 warm-up bars, then 90 bars one by one (no ring wraps): every state equals a fresh builder's."""
    history, events = _bar_events(shared_data, 200, 90)
    market = MarketState(SYMS, EventClock())
    market.load_history(history)
    cached = StateBuilder()
    builds = 0
    for i, ev in enumerate(events):
        market.apply(ev)
        position = LONG if i % 3 else None
        assert_same_state(cached.build(market, position), StateBuilder().build(market, position))
        builds += 1
    assert builds == len(events) == 180


def test_cached_build_equals_fresh_build_on_ticks_and_book(shared_data):
    """Real Binance trades and L2 book (the 1s ring wraps, the 1m and 1h ones do not)."""
    market = MarketState(SYMS, EventClock())
    cached = StateBuilder()
    next_ns, builds = None, 0
    for ev in ReplayVenue([shared_data / f for f in WS_DAY1.values()]).iter_events():
        market.apply(ev)
        next_ns = next_ns or ev.ts_ns + 30 * NS_PER_S
        if ev.ts_ns >= next_ns:
            assert_same_state(cached.build(market, LONG), StateBuilder().build(market, LONG))
            next_ns += 7 * NS_PER_S
            builds += 1
            if builds == 40:
                break
    assert builds == 40


def test_build_rate_does_not_change_the_state(shared_data):
    """700 bars per symbol (the rings wrap): building every bar or every 7th bar gives the
    same states where both build, so nothing cached depends on when builds happen."""
    history, events = _bar_events(shared_data, 300, 400)
    market = MarketState(SYMS, EventClock())
    market.load_history(history)
    every, sparse = StateBuilder(), StateBuilder()
    compared = 0
    for i, ev in enumerate(events):
        market.apply(ev)
        state = every.build(market, LONG)
        if i % 7 == 0:
            assert_same_state(state, sparse.build(market, LONG))
            compared += 1
    assert compared == len(range(0, len(events), 7))


@pytest.mark.parametrize("position", [None, LONG])
def test_states_do_not_share_arrays(shared_data, position):
    """Each state owns its arrays: a later build does not change an earlier state."""
    history, events = _bar_events(shared_data, 300, 3)
    market = MarketState(SYMS, EventClock())
    market.load_history(history)
    builder = StateBuilder()
    market.apply(events[0])
    first = builder.build(market, position)
    kept = (first.vector.copy(), first.market_tensor.copy(), {k: m.copy() for k, m in first.masks.items()})
    for ev in events[1:]:
        market.apply(ev)
        builder.build(market, position)
    assert np.array_equal(first.vector, kept[0])
    assert np.array_equal(first.market_tensor, kept[1])
    assert all(np.array_equal(first.masks[k], kept[2][k]) for k in kept[2])
