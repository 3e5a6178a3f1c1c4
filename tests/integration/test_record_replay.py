"""Record from the loopback exchange for a fixed number of polls, then replay the files: the
same trades and book come back through ReplayVenue.

The recording stops on a count of venue events, not on wall time: `Recorder.run` only knows a
wall-clock duration, so the test ends the venue's event stream itself once three polls have
been delivered (each REST poll ends with one book event, after its trades). Three polls, so
trades served again by the later polls are shown to be recorded once. The wall-clock duration
is only a hang guard."""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path

from tests.integration.binance_loopback import BinanceLoopback, recorded_routes
from engine.market.book import OrderBook
from engine.core.events import BarEvent, BookEvent, TradeEvent
from engine.venues.recorder import Recorder
from engine.venues.replay import ReplayVenue


POLLS = 3
HANG_GUARD_S = 120.0


def stop_after_polls(recorder: Recorder, polls: int) -> dict[str, int]:
    """End the recorder's venue stream after `polls` book events; returns live counts."""
    seen = {"trades": 0, "books": 0}
    events = recorder.venue.events

    async def counted():
        async with contextlib.aclosing(events()) as stream:
            async for ev in stream:
                seen["trades"] += isinstance(ev, TradeEvent)
                seen["books"] += isinstance(ev, BookEvent)
                yield ev
                if seen["books"] >= polls:
                    return

    recorder.venue.events = counted
    return seen


async def test_record_then_replay_round_trip(shared_data: Path, tmp_path: Path):
    server = await BinanceLoopback(recorded_routes(shared_data)).start()
    try:
        recorder = Recorder("binance", ("BTC/USDT",), tmp_path, exchange_factory=server.exchange,
                            use_websockets=False, poll_interval_s=0.0)
        seen = stop_after_polls(recorder, POLLS)
        summary = await recorder.run(duration_s=HANG_GUARD_S)
    finally:
        await server.stop()
    assert seen["books"] == POLLS, f"stopped by the hang guard after {seen}, not by the poll count"
    assert server.requests.count("GET /api/v3/aggTrades") >= POLLS
    assert seen["trades"] == 1000 and summary["trades"] == {"BTC/USDT": 1000}, "re-served trades recorded once"
    assert summary["book_lines"] == {"BTC/USDT": 1}, "an unchanged book is written once, as the snapshot"

    venue = ReplayVenue([Path(f) for f in summary["files"]])
    assert venue.symbols == ("BTC/USDT",)
    events = list(venue.iter_events())
    assert venue.rejected.total == 0 and venue.stats()["BTC/USDT"]["gaps"] == 0

    gct = json.loads(gzip.open(shared_data / "gocryptotrader" / "binance_spot_rest_recorded_2020.json.gz").read())
    agg = gct["routes"]["/api/v3/aggTrades"][0]["response"]
    trades = [e for e in events if isinstance(e, TradeEvent)]
    assert [(t.trade_id, t.price, t.qty, t.ts_ns) for t in trades] == [
        (a["a"], float(a["p"]), float(a["q"]), a["T"] * 1_000_000) for a in agg
    ]

    depth = gct["routes"]["/api/v3/depth"][0]["response"]
    book = OrderBook("BTC/USDT")
    for ev in (e for e in events if isinstance(e, BookEvent)):
        (book.apply_snapshot if ev.is_snapshot else book.apply_diff)(ev.bids, ev.asks, ev.ts_ns)
    bids, asks = book.top(20)
    assert bids.tolist() == [[float(p), float(q)] for p, q in depth["bids"][:20]]
    assert asks.tolist() == [[float(p), float(q)] for p, q in depth["asks"][:20]]

    # The recorded 1m klines (04:42-05:41) end before these trades (07:11), and ccxt keeps only
    # bars from `since` on, so the exchange honestly has no bars for this session: none written.
    assert not [e for e in events if isinstance(e, BarEvent)]
    assert not [f for f in summary["files"] if f.endswith(".csv.gz")]
