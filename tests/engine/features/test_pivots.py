"""Williams pivots: the level-1 rules (ties, inside and outside bars), recursion, causal
known-at times, incremental feeding, and the per-level density on real ETH 1m data."""

import numpy as np
import pytest

from engine.market.bars import BarRing
from engine.core.events import RejectCounter
from engine.core.units import NS_PER_S
from engine.features.pivots import HIGH, LOW, PivotChain, pivots_from_arrays
from engine.venues.klines import read_bars

T0 = 1_700_000_000.0


def run(bars, levels=2):
    """bars: (high, low) or (open, high, low, close); returns the chain after feeding all."""
    chain = PivotChain("1m", levels, 60.0)
    for i, b in enumerate(bars):
        o, h, lo, c = (b[1], *b, b[1]) if len(b) == 2 else b
        chain.on_bar(T0 + 60 * i, o, h, lo, c)
    return chain


def got(chain, level, kind):
    return [(p.bar_index, p.price, p.known_index) for p in chain.pivots[(level, kind)]]


def test_simple_swing_high_is_known_when_the_right_bar_closes():
    chain = run([(10, 9), (11, 10), (12, 11), (11.5, 10.5), (11.8, 10.6)])
    assert got(chain, 1, HIGH) == [(2, 12, 3)]
    p = chain.pivots[(1, HIGH)][0]
    assert p.t_s == T0 + 120 and p.known_s == T0 + 4 * 60  # close of bar 3
    assert got(chain, 1, LOW) == [(3, 10.5, 4)]


def test_equal_highs_give_one_pivot_at_the_first_bar():
    # bar 2 repeats bar 1's high but has a lower low (not an inside bar)
    chain = run([(10, 9), (12, 11), (12, 10.5), (11, 10)])
    assert got(chain, 1, HIGH) == [(1, 12, 2)]


def test_inside_bars_are_ignored():
    # bar 2 is inside bar 1: bar 1's high is confirmed by bar 3, not by bar 2
    chain = run([(10, 9), (12, 10), (11.5, 10.5), (11, 9.5)])
    assert got(chain, 1, HIGH) == [(1, 12, 3)]
    # a run of inside bars never produces a pivot
    assert got(run([(10, 9), (12, 8), (11, 9), (10.5, 9.5), (10.2, 9.8)]), 1, HIGH) == []


def test_bullish_outside_bar_low_came_first():
    # bar 2 engulfs bar 1 and closes up: its low came before its high, so bar 1's high
    # is a swing high and bar 2's low is a swing low, both known at bar 2's close
    chain = run([(10, 9), (12, 11), (11.5, 13, 10, 12.8)])
    assert got(chain, 1, HIGH) == [(1, 12, 2)]
    assert got(chain, 1, LOW) == [(2, 10, 2)]


def test_bearish_outside_bar_high_came_first():
    chain = run([(10, 9), (12, 11), (12.5, 13, 10, 10.2)])
    assert got(chain, 1, HIGH) == [(2, 13, 2)]
    assert got(chain, 1, LOW) == []


def test_level_two_from_level_one_and_its_known_time():
    bars = [(10, 9), (11, 10), (10.5, 9.5), (13, 10), (12, 9.8), (12.5, 10.2), (11, 9)]
    chain = run(bars)
    assert [p[1] for p in got(chain, 1, HIGH)] == [11, 13, 12.5]
    # level 2: 13 has lower level-1 highs on both sides; known when 12.5 is known (bar 6)
    assert got(chain, 2, HIGH) == [(3, 13, 6)]
    assert chain.pivots[(2, HIGH)][0].known_s == T0 + 7 * 60


def load_eth(shared_data):
    path = shared_data / "bybit_klines_cobra0506" / "bybit_linear_ethusdt_1m_20250530-20250629.csv.gz"
    rejected = RejectCounter()
    bars = list(read_bars(path, "ETH/USDT", rejected=rejected))
    assert not rejected.by_reason and all(b.timeframe == "1m" for b in bars)
    t = np.array([b.ts_ns / NS_PER_S for b in bars])
    ohlc = np.array([[b.open, b.high, b.low, b.close] for b in bars])
    return t, ohlc


@pytest.fixture(scope="module")
def eth(shared_data):
    return load_eth(shared_data)


def test_real_month_density_and_lag(eth):
    t, ohlc = eth
    assert len(t) == 43_200
    chain = pivots_from_arrays(t, ohlc, levels=5)
    counts = [chain.counts[(k, HIGH)] + chain.counts[(k, LOW)] for k in range(1, 6)]
    # measured: 14,676 / 3,968 / 1,059 / 271 / 62; each level keeps roughly 1 in 4
    assert 13_000 < counts[0] < 16_500
    for lower, upper in zip(counts, counts[1:]):
        assert 2.5 < lower / upper < 6.0
    for k in range(1, 6):
        for p in chain.pivots[(k, HIGH)]:
            # never known before its own bar closed (outside bars can confirm themselves)
            assert p.known_index >= p.bar_index and p.known_s >= p.t_s + 60
    # confirmation lag grows with the level (level 5 is hours late on 1m bars)
    lag = [np.mean([p.known_index - p.bar_index for p in chain.pivots[(k, HIGH)]]) for k in (1, 3, 5)]
    assert lag[0] < 3 < lag[1] < 100 < lag[2]


def test_300_bars_cannot_hold_five_levels_but_the_1h_chain_fills_levels_4_5(eth):
    t, ohlc = eth
    empty = np.zeros(5)
    windows = range(0, len(t) - 300, 3000)
    for s in windows:
        c = pivots_from_arrays(t[s : s + 300], ohlc[s : s + 300], levels=5)
        empty += [c.counts[(k, HIGH)] + c.counts[(k, LOW)] == 0 for k in range(1, 6)]
    assert empty[4] == len(windows)  # level 5 always empty in 300 1m bars
    assert empty[:3].sum() == 0
    n = len(t) // 60 * 60
    m = ohlc[:n].reshape(-1, 60, 4)
    hourly = np.stack([m[:, 0, 0], m[:, :, 1].max(1), m[:, :, 2].min(1), m[:, -1, 3]], axis=1)
    c = pivots_from_arrays(t[:n:60][:300], hourly[:300], levels=2, step_s=3600.0)
    assert c.counts[(1, HIGH)] + c.counts[(1, LOW)] > 80  # measured 110
    assert c.counts[(2, HIGH)] + c.counts[(2, LOW)] > 15  # measured 28


def test_incremental_ring_feeding_equals_one_pass(eth):
    t, ohlc = eth
    n = 3000
    batch = pivots_from_arrays(t[:n], ohlc[:n], levels=3)
    ring = BarRing("1m", capacity=300)
    chain = PivotChain("1m", 3, 60.0)
    rng = np.random.default_rng(7)
    i = 0
    while i < n:
        for j in range(i, min(n, i + int(rng.integers(1, 120)))):  # irregular call spacing
            ring.append((t[j], *ohlc[j], 1.0, np.nan, np.nan))
            i = j + 1
        chain.feed(ring)
    for key in batch.pivots:
        assert list(chain.pivots[key]) == list(batch.pivots[key])
