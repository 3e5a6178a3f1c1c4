import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market.bars import COL, BarAggregator, BarRing
from engine.core.events import BarEvent
from engine.core.units import NS_PER_S


def test_trades_become_ohlcv_bars_with_flat_bars_for_silent_seconds():
    agg = BarAggregator("ETH/USDT", capacity=10)
    agg.on_trade(0, 100.0, 1.0, True)
    agg.on_trade(NS_PER_S // 2, 102.0, 2.0, False)
    agg.on_trade(NS_PER_S // 2 + 1, 99.0, 1.0, True)
    agg.on_trade(3 * NS_PER_S + 5, 101.0, 1.0, True)  # seconds 1 and 2 had no trades
    bars = agg.rings["1s"].last()
    assert len(bars) == 3
    first = bars[0]
    assert (first[COL["open"]], first[COL["high"]], first[COL["low"]], first[COL["close"]]) == (100.0, 102.0, 99.0, 99.0)
    assert first[COL["volume"]] == 4.0 and first[COL["trades"]] == 3 and first[COL["buy_volume"]] == 2.0
    for gap in bars[1:]:
        assert gap[COL["open"]] == gap[COL["close"]] == 99.0 and gap[COL["volume"]] == 0.0
    assert [b[COL["open_time_s"]] for b in bars] == [0.0, 1.0, 2.0]
    assert len(agg.rings["1m"]) == 0 and agg.open_bar("1m")[COL["volume"]] == 5.0


def test_ring_is_fixed_size_and_keeps_the_newest():
    ring = BarRing("1s", capacity=4)
    for i in range(10):
        ring.append((i, 1, 1, 1, 1, 0, 0, 0))
    assert len(ring) == 4 and ring.total == 10
    assert list(ring.last()[:, 0]) == [6, 7, 8, 9]
    assert list(ring.last(2)[:, 0]) == [8, 9]


def test_a_long_gap_never_loops_past_capacity():
    agg = BarAggregator("ETH/USDT", capacity=5)
    agg.on_trade(0, 100.0, 1.0, True)
    agg.on_trade(10**6 * NS_PER_S, 100.0, 1.0, True)  # eleven days later
    assert len(agg.rings["1s"]) == 5


def test_finished_bars_roll_up_into_longer_timeframes():
    agg = BarAggregator("ETH/USDT", capacity=10)
    for i in range(61):
        px = 100.0 + i
        agg.on_bar(BarEvent(i * 60 * NS_PER_S, "ETH/USDT", "1m", px, px + 1, px - 1, px, 1.0))
    assert len(agg.rings["1m"]) == 10 and len(agg.rings["1s"]) == 0  # 1s cannot be made from 1m
    h = agg.rings["1h"].last()
    assert len(h) == 1
    assert h[0][COL["open"]] == 100.0 and h[0][COL["close"]] == 159.0 and h[0][COL["volume"]] == 60.0
    assert np.isnan(h[0][COL["trades"]])


def _reference_bars(trades, until_ns, step_ns):
    """Closed bars and the bar in progress for one timeframe, from the whole trade list."""
    buckets: dict[int, list] = {}
    for ts, px, qty, buy in trades:
        start = ts - ts % step_ns
        b = buckets.get(start)
        if b is None:
            buckets[start] = [start / NS_PER_S, px, px, px, px, qty, 1.0, qty if buy else 0.0]
        else:
            b[2], b[3], b[4] = max(b[2], px), min(b[3], px), px
            b[5] += qty
            b[6] += 1.0
            b[7] += qty if buy else 0.0
    first, last = min(buckets), max(buckets)
    closed, close = [], None
    start = first
    while start + step_ns <= until_ns:
        bar = buckets.get(start)
        if bar is None:
            bar = [start / NS_PER_S, close, close, close, close, 0.0, 0.0, 0.0]
        closed.append(bar)
        close = bar[4]
        start += step_ns
    open_bar = buckets[last] if last + step_ns > until_ns else None
    return np.array(closed).reshape(-1, 8), open_bar


TRADES = st.lists(st.tuples(st.integers(0, 90 * NS_PER_S), st.floats(90.0, 110.0), st.floats(0.001, 5.0), st.booleans()),
                  min_size=1, max_size=60)  # (gap before the trade, price, qty, buyer is aggressor)
ADVANCES = st.lists(st.one_of(st.none(), st.integers(0, 200 * NS_PER_S)), min_size=60, max_size=60)
TIMEFRAMES = (("1s", NS_PER_S), ("1m", 60 * NS_PER_S), ("1h", 3600 * NS_PER_S))


def _feed(agg: BarAggregator, trades, advances=None) -> tuple[list, int]:
    """Trades at increasing times, each optionally followed by an `advance` to a later time."""
    fed, now = [], 0
    for i, (gap, px, qty, buy) in enumerate(trades):
        now += gap
        agg.on_trade(now, px, qty, buy)
        fed.append((now, px, qty, buy))
        if advances is not None and advances[i] is not None:
            now += advances[i]
            agg.advance(now)
    return fed, now


@settings(max_examples=150, deadline=None)
@given(TRADES)
def test_bars_equal_a_recount_from_the_trades(trades):
    """Every timeframe's closed bars (silent intervals as flat bars) and its bar in progress
    equal those counted directly from the trade list."""
    agg = BarAggregator("ETH/USDT", capacity=100_000, timeframes=tuple(tf for tf, _ in TIMEFRAMES))
    fed, now = _feed(agg, trades)
    for tf, step in TIMEFRAMES:
        closed, open_bar = _reference_bars(fed, now, step)
        assert np.array_equal(agg.rings[tf].last(), closed), tf
        assert np.array_equal(agg.open_bar(tf), np.array(open_bar)), tf


class _WalkingAggregator(BarAggregator):
    """The aggregator without its shortcut: every advance walks every timeframe."""

    def advance(self, ts_ns: int) -> None:
        for tf in self.rings:
            self._close_through(tf, ts_ns)


@settings(max_examples=150, deadline=None)
@given(TRADES, ADVANCES)
def test_skipping_advances_before_the_next_bar_end_changes_no_bar(trades, advances):
    """`advance` returns at once until the earliest bar in progress is due (it runs for every
    symbol on every event); with advances at any times, the bars equal a full walk's."""
    tfs = tuple(tf for tf, _ in TIMEFRAMES)
    fast, walking = BarAggregator("ETH/USDT", 100_000, tfs), _WalkingAggregator("ETH/USDT", 100_000, tfs)
    _feed(fast, trades, advances)
    _feed(walking, trades, advances)
    for tf in tfs:
        assert np.array_equal(fast.rings[tf].last(), walking.rings[tf].last()), tf
        a, b = fast.open_bar(tf), walking.open_bar(tf)
        assert (a is None and b is None) or np.array_equal(a, b), tf


def test_last_is_read_only_and_follows_appends():
    ring = BarRing("1m", capacity=3)
    ring.append((0, 1, 1, 1, 1, 0, 0, 0))
    first = ring.last()
    with pytest.raises(ValueError):
        first[0, 1] = 2.0
    ring.append((60, 2, 2, 2, 2, 0, 0, 0))
    assert list(ring.last()[:, 0]) == [0, 60] and list(first[:, 0]) == [0]
