"""State builder on real replayed data: masks for missing history, finite normalised values,
CNN blocks masked until filled, the tick and position blocks, and block caching."""

import heapq
from itertools import islice

import numpy as np
import pytest

from engine.market.book import OrderBook
from engine.core.clock import EventClock
from engine.features.cob import CobTracker
from engine.core.units import NS_PER_S
from engine.market.state import MarketState
from engine.features.schema import SCHEMA
from engine.features.builder import StateBuilder, position_block
from engine.venues.klines import read_bars
from engine.venues.replay import ReplayVenue
from tests.recorded import KLINES_1M, WS_DAY1

SYMS = ("ETH/USDT", "BTC/USDT")


@pytest.fixture(scope="module")
def bars_market(shared_data):
    """300 warm-up 1m bars per symbol, then 400 more replayed bar by bar."""
    streams = {s: list(islice(read_bars(shared_data / f, s), 700)) for s, f in KLINES_1M.items()}
    market = MarketState(SYMS, EventClock())
    market.load_history([b for bars in streams.values() for b in bars[:300]])
    builder = StateBuilder()
    for ev in heapq.merge(*(bars[300:] for bars in streams.values()), key=lambda b: b.end_ns):
        market.apply(ev)
        builder.build(market, None)
    return market, builder


@pytest.fixture(scope="module")
def ws_market(shared_data):
    """About two minutes of real Binance spot trades and L2 book for both symbols."""
    venue = ReplayVenue([shared_data / f for f in WS_DAY1.values()])
    events = list(islice(venue.iter_events(), 7_000))
    market = MarketState(SYMS, EventClock())
    builder = StateBuilder()
    for ev in events:
        market.apply(ev)
        builder.observe_books(market)
    return market, builder


def test_bars_only_replay_masks_and_values(bars_market):
    market, builder = bars_market
    s = builder.build(market, {"side": 0})
    assert np.isfinite(s.vector).all() and np.isfinite(s.market_tensor).all()
    assert np.abs(s.vector).max() < 100  # normalised: no raw prices of thousands
    assert s.masks["eth_ohlcv_1m"].all() and s.masks["btc_ohlcv_1m"].all()
    assert not s.masks["eth_ohlcv_1s"].any() and not s.masks["eth_ticks_1s"].any()  # no trades
    assert s.masks["eth_ohlcv_1h"].sum() <= 7  # 400 minutes of roll-ups
    assert s.masks["eth_ohlcv_1d"].sum() <= 1
    assert not s.block("eth_ohlcv_1d")[~s.masks["eth_ohlcv_1d"]].any()  # masked rows are zero
    assert s.masks["williams_pivots"][:3].all()  # 1m levels filled from 700 bars
    one_m = s.block("eth_ohlcv_1m")
    assert one_m[-1, 3] == 0.0  # close relative to the newest close
    last = market["ETH/USDT"].bars.rings["1m"].last(2)
    assert one_m[-1, 7] == pytest.approx(100 * np.log(last[1, 4] / last[0, 4]), rel=1e-5)
    # the market tensor carries every time block's features as channels, then the masks
    assert np.array_equal(s.market_tensor[18:26], one_m.T)
    assert np.array_equal(s.market_tensor[50:56], np.stack([s.masks[b.name] for b in SCHEMA.blocks[:6]]))
    # no book in a bars-only market: COB zeros, validity flag 0
    assert s.cob[45] == 0 and not s.cob_mask[:43].any()


def test_cnn_blocks_masked_until_provided(bars_market):
    market, builder = bars_market
    s = builder.build(market, None)
    assert not s.masks["cnn_hidden"].any() and not s.block("cnn_hidden").any()
    hidden = np.linspace(-1, 1, 512)
    preds = np.full(16, 0.25)
    filled = s.with_cnn(hidden, preds)
    assert filled.masks["cnn_hidden"].all() and filled.masks["cnn_predictions"].all()
    assert np.allclose(filled.block("cnn_hidden"), hidden) and np.allclose(filled.block("cnn_predictions"), preds)
    assert not s.block("cnn_hidden").any()  # the original is untouched
    a, b = SCHEMA.offsets()["cnn_hidden"]
    assert np.array_equal(np.delete(filled.vector, np.s_[a : b + 16]), np.delete(s.vector, np.s_[a : b + 16]))
    with pytest.raises(ValueError):
        s.with_cnn(np.zeros(10), preds)
    direct = builder.build(market, None, cnn_hidden=hidden, cnn_predictions=preds)
    assert np.array_equal(direct.vector, filled.vector)


def test_slow_blocks_are_cached_by_ring_version(bars_market):
    market, builder = bars_market
    builder.build(market, None)
    cached = builder._bar_cache["eth_ohlcv_1h"]
    builder.build(market, None)
    assert builder._bar_cache["eth_ohlcv_1h"] is cached


def test_tick_block_on_real_trades(ws_market):
    market, builder = ws_market
    s = builder.build(market, None)
    assert np.isfinite(s.vector).all() and np.abs(s.vector).max() < 100
    ticks = market["ETH/USDT"].recent_ticks()
    now = market.clock.now_ns()
    first_slot = int((ticks[0, 0] - ((now // NS_PER_S + 1) * NS_PER_S - 300 * NS_PER_S)) // NS_PER_S)
    mask = s.masks["eth_ticks_1s"]
    assert not mask[: max(first_slot, 0)].any() and mask[max(first_slot, 0) :].all()
    block = s.block("eth_ticks_1s")
    in_window = ticks[ticks[:, 0] >= now - (now % NS_PER_S) + NS_PER_S - 300 * NS_PER_S]
    assert np.expm1(block[:, 0]).sum() == pytest.approx(len(in_window), rel=1e-4)
    assert np.expm1(block[:, 1]).sum() == pytest.approx(in_window[:, 2].sum(), rel=1e-4)
    # a real book: the COB vector is valid and its spread matches the book
    eth = market["ETH/USDT"].book
    bids, asks = eth.top(1)
    assert s.cob[45] == 1 and s.cob_mask[:3].all()
    assert s.cob[0] == pytest.approx((asks[0, 0] - bids[0, 0]) / eth.mid * 1e4, rel=1e-4)
    assert s.cob_mask[40:42].all()  # BTC reference book present


def test_position_block():
    f, m = position_block({"side": 1, "qty": 0.5, "entry_price": 2000.0, "entry_ns": 0, "configured_qty": 0.5,
                           "equity": 10_100.0, "start_equity": 10_000.0, "ignored": 1}, 2020.0, 60 * NS_PER_S)
    assert f[0] == 1 and f[1] == 1.0
    assert f[2] == pytest.approx(100 * np.log(1.01))
    assert f[3] == pytest.approx(np.log1p(60)) and f[4] == pytest.approx(1.0)
    assert not m[5] and not m[6] and f[7] == pytest.approx(0.5 * 2020 / 10_100)
    f, m = position_block({"side": -1, "qty": 1.0, "entry_price": 2000.0}, 2020.0, 0)
    assert f[2] < 0  # short loses when price rises
    f, m = position_block(None, 2020.0, 0)
    assert not f.any() and not m.any()


def test_order_flow_imbalance_sign():
    book = OrderBook("ETH/USDT")
    tracker = CobTracker()
    book.apply_snapshot(np.array([[100.0, 1.0], [99.9, 1.0]]), np.array([[100.1, 1.0], [100.2, 1.0]]), NS_PER_S)
    tracker.observe(book)
    book.apply_diff(np.array([[100.0, 3.0]]), np.empty((0, 2)), NS_PER_S + 1)  # bid queue grows
    tracker.observe(book)
    f, m = tracker.features(book, np.empty((0, 4)), NS_PER_S + 2)
    assert m[22] and f[22] == pytest.approx(2.0 / 2.0)  # +2 bid size / mean L1 size 2
    assert f[16] == pytest.approx(2 * 3 / 4 - 1)


def _minute_bars(symbol: str, closes: list[float], t0_s: int = 1_748_563_200) -> list:
    from engine.core.events import BarEvent
    return [BarEvent((t0_s + 60 * i) * NS_PER_S, symbol, "1m", c, c, c, c, 1.0) for i, c in enumerate(closes)]


def test_trailing_returns_on_kline_bars_reach_back_whole_closed_minutes():
    """On kline data a decision comes as a bar closes: the 60 s return is from the close of
    the bar before it, 120 s from two before; no 5-30 s return exists without 1s bars."""
    from engine.features.returns import trailing_returns
    from engine.features.schema import LOOKBACKS_S

    closes = [100.0 * (1.001 ** i) for i in range(20)]  # +10 bp a minute
    market = MarketState(SYMS, EventClock())
    bars = _minute_bars("ETH/USDT", closes)
    for bar in bars:
        market.apply(bar)
    now_ns = market.clock.now_ns()
    assert now_ns == bars[-1].ts_ns + 60 * NS_PER_S  # the newest bar closed just now
    row, known = trailing_returns(market.by_symbol["ETH/USDT"], now_ns)
    got = dict(zip(LOOKBACKS_S, row))
    assert known and all(got[s] == 0.0 for s in (5, 15, 30))
    assert got[60] == pytest.approx(10.0 * np.log(1.001) * 1e3, rel=1e-6)
    assert got[300] == pytest.approx(5 * got[60], rel=1e-6)
    assert got[3600] == 0.0  # 20 minutes held: an hour ago is unknown
    none, known_none = trailing_returns(market.by_symbol["BTC/USDT"], now_ns)
    assert not known_none and not none.any()


def test_trailing_returns_on_hourly_bars_give_the_last_hour_only():
    """Hourly bars alone: the 1 h return is the last bar's (from the close before it); no
    shorter return is made up from hours."""
    from engine.core.events import BarEvent
    from engine.features.returns import trailing_returns
    from engine.features.schema import LOOKBACKS_S

    market = MarketState(SYMS, EventClock())
    closes = [100.0, 101.0, 99.0, 100.5]
    for i, c in enumerate(closes):
        market.apply(BarEvent((1_748_563_200 + 3600 * i) * NS_PER_S, "BTC/USDT", "1h", c, c, c, c, 1.0))
    row, known = trailing_returns(market.by_symbol["BTC/USDT"], market.clock.now_ns())
    got = dict(zip(LOOKBACKS_S, row))
    assert known and got[3600] == pytest.approx(np.log(100.5 / 99.0) * 1e4, rel=1e-9)
    assert all(got[s] == 0.0 for s in LOOKBACKS_S if s < 3600)


def test_trailing_returns_on_trades_come_from_the_seconds():
    """With a trade every second, the 5 s return is from the close of the second that
    ended 5 s before the last trade's second ended."""
    from engine.core.enums import Side
    from engine.core.events import TradeEvent
    from engine.features.returns import trailing_returns
    from engine.features.schema import LOOKBACKS_S

    market = MarketState(SYMS, EventClock())
    t0 = 1_748_563_200 * NS_PER_S
    for i in range(200):
        market.apply(TradeEvent(t0 + i * NS_PER_S + NS_PER_S // 2, "ETH/USDT", 100.0 + 0.01 * i, 1.0, Side.BUY))
    market.apply(TradeEvent(t0 + 200 * NS_PER_S, "ETH/USDT", 102.0, 1.0, Side.BUY))  # closes second 199
    row, known = trailing_returns(market.by_symbol["ETH/USDT"], market.clock.now_ns())
    got = dict(zip(LOOKBACKS_S, row))
    assert known
    assert got[5] == pytest.approx(np.log(102.0 / (100.0 + 0.01 * 194)) * 1e4, rel=1e-6)
    assert got[60] == pytest.approx(np.log(102.0 / (100.0 + 0.01 * 139)) * 1e4, rel=1e-6)
