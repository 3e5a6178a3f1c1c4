import numpy as np
import pytest

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
