"""ReplayVenue: format detection, per-symbol file chaining and event-time merge on real files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.core.events import BarEvent, BookEvent, FeedStatus, TradeEvent
from engine.venues.base import Venue
from engine.venues.replay import ReplayVenue


@pytest.fixture(scope="module")
def spot_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "binance_ws_hftbacktest").glob("spot_*.gz"))


async def test_four_spot_files_merge_in_event_time_with_every_trade(spot_files):
    venue = ReplayVenue(spot_files)
    assert isinstance(venue, Venue) and venue.label == "REPLAY" and venue.symbols == ("BTC/USDT", "ETH/USDT")
    assert await venue.warmup() == []

    ticks = 0

    async def ticker():  # proves the venue hands control back while parsing
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    events = [ev async for ev in venue.events()]
    task.cancel()

    assert ticks > 10
    assert isinstance(events[-1], FeedStatus) and events[-1].state == "ended"
    ts = [e.ts_ns for e in events]
    assert all(a <= b for a, b in zip(ts, ts[1:]))
    trades = {s: sum(isinstance(e, TradeEvent) and e.symbol == s for e in events) for s in venue.symbols}
    assert trades == {"ETH/USDT": 6_106 + 8_409, "BTC/USDT": 9_757 + 10_147}
    stats = venue.stats()
    assert stats["ETH/USDT"]["gaps"] == stats["BTC/USDT"]["gaps"] == 0
    assert venue.rejected.total == 0
    for sym in venue.symbols:
        book = [e for e in events if isinstance(e, BookEvent) and e.symbol == sym]
        assert book[0].is_snapshot and sum(e.is_snapshot for e in book) == 1
        assert stats[sym]["book_updates"] == len(book)
    # both symbols interleave over the whole window, not one after the other
    first_btc = next(i for i, e in enumerate(events) if getattr(e, "symbol", "") == "BTC/USDT")
    first_eth = next(i for i, e in enumerate(events) if getattr(e, "symbol", "") == "ETH/USDT")
    assert max(first_btc, first_eth) < 200


def test_bars_only_replay_merges_by_close_time(shared_data: Path):
    d = shared_data / "binance_klines_lti"
    paths = [d / "ETHUSDT-1h-2022-08-24.zip", d / "ETHUSDT-1h-2022-08-25.zip", d / "BTCUSDT-1h-2022-09-07.zip"]
    venue = ReplayVenue(paths, symbols=("ETH/USDT", "BTC/USDT"))
    events = list(venue.iter_events())
    assert all(isinstance(e, BarEvent) for e in events) and len(events) == 72
    ends = [e.end_ns for e in events]
    assert ends == sorted(ends)
    assert venue.stats()["ETH/USDT"]["bars"] == 48 and venue.stats()["BTC/USDT"]["bars"] == 24
    assert venue.span_ns() == (ends[0], ends[-1])  # what progress is measured against


def test_a_recordings_span_is_its_first_and_last_receive_time(spot_files):
    venue = ReplayVenue(spot_files)
    first, last = venue.span_ns()
    ts = [e.ts_ns for e in venue.iter_events()]
    minutes = (last - first) / 60e9
    assert 5 < minutes < 60 and abs(ts[0] - first) < 5e9 and abs(ts[-1] - last) < 5e9, (minutes, ts[0] - first, ts[-1] - last)


def test_refuses_ambiguous_or_unlisted_data(shared_data: Path):
    d = shared_data / "binance_ws_hftbacktest"
    with pytest.raises(ValueError, match="two different recordings"):
        ReplayVenue([d / "spot_ethusdt_20240808.gz", d / "usdm_ethusdt_20240808.gz"])
    with pytest.raises(ValueError, match="not among the symbols"):
        ReplayVenue([d / "spot_ethusdt_20240808.gz"], symbols=("BTC/USDT",))
    usdm = ReplayVenue([d / "spot_ethusdt_20240808.gz", d / "usdm_ethusdt_20240808.gz"],
                       symbol_overrides={d / "usdm_ethusdt_20240808.gz": "ETH/USDT:USDT"})
    assert usdm.symbols == ("ETH/USDT", "ETH/USDT:USDT")
