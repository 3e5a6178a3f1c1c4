import asyncio

import numpy as np

from engine.core.events import BookEvent, TradeEvent
from engine.venues.sim import SimVenue
from tests.helpers import sim_settings


def take(seed, n):
    s = sim_settings(sim={"seed": seed})
    venue = SimVenue(s.sim, s.venue.symbols)

    async def go():
        out = []
        async for e in venue.events():
            out.append(e)
            if len(out) >= n:
                break
        return out

    return venue, asyncio.run(go())


def test_same_seed_same_market_event_for_event():
    _, a = take(7, 3000)
    _, b = take(7, 3000)
    assert [repr(e) for e in a if isinstance(e, TradeEvent)] == [repr(e) for e in b if isinstance(e, TradeEvent)]
    _, c = take(8, 3000)
    assert [e.price for e in a if isinstance(e, TradeEvent)][:50] != [e.price for e in c if isinstance(e, TradeEvent)][:50]


def test_events_are_time_ordered_with_realistic_rates_and_a_20_level_book():
    venue, events = take(1, 20000)
    ts = [e.ts_ns for e in events]
    assert ts == sorted(ts)
    span_s = (ts[-1] - ts[0]) / 1e9
    for sym in ("ETH/USDT", "BTC/USDT"):
        rate = venue.stats()[sym]["trades"] / span_s
        assert 3.0 < rate < 20.0, rate  # several trades per second per symbol
    book = next(e for e in events if isinstance(e, BookEvent))
    assert book.bids.shape == (20, 2) and book.asks.shape == (20, 2)
    assert book.bids[0, 0] < book.asks[0, 0]
    assert (np.diff(book.bids[:, 0]) < 0).all() and (np.diff(book.asks[:, 0]) > 0).all()


def test_eth_and_btc_returns_are_positively_correlated():
    _, events = take(3, 60000)
    last: dict[str, float] = {}
    series: dict[str, list[float]] = {"ETH/USDT": [], "BTC/USDT": []}
    next_s = None
    for e in events:
        if isinstance(e, BookEvent):
            last[e.symbol] = (e.bids[0, 0] + e.asks[0, 0]) / 2
        if len(last) == 2 and (next_s is None or e.ts_ns >= next_s):
            next_s = e.ts_ns + 10 * 10**9
            for k in series:
                series[k].append(last[k])
    r = [np.diff(np.log(series[k])) for k in ("ETH/USDT", "BTC/USDT")]
    assert np.corrcoef(r[0], r[1])[0, 1] > 0.4


def test_warmup_has_300_bars_of_every_timeframe_ending_at_the_start_price():
    s = sim_settings()
    venue = SimVenue(s.sim, s.venue.symbols)
    bars = asyncio.run(venue.warmup())
    for tf in ("1s", "1m", "1h", "1d"):
        eth = [b for b in bars if b.symbol == "ETH/USDT" and b.timeframe == tf]
        assert len(eth) == 300
        assert eth[-1].close == s.sim.prices["ETH/USDT"]
        assert eth[-1].ts_ns < venue.start_ns
        for b in eth:
            b.validate()
