"""Binance raw WebSocket recordings: book sync on real files, and counted rejects on corrupted ones."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from engine.market.book import OrderBook
from engine.core.enums import Side
from engine.core.events import BookEvent, FeedStatus, InvalidEvent, RejectCounter, TradeEvent
from engine.venues.binance_sync import parse_diff
from engine.venues.binance_ws import book_events, trade_events
from engine.venues.ccxt_parse import book_levels


def _bbo_by_update_id(paths: list[Path]) -> dict[int, tuple[float, float]]:
    out = {}
    for path in paths:
        with gzip.open(path, "rt") as fh:
            for line in fh:
                if "@bookTicker" in line:
                    d = json.loads(line.partition(" ")[2])["data"]
                    out[d["u"]] = (float(d["b"]), float(d["a"]))
    return out


@pytest.mark.parametrize(
    "market, trades_expected",
    [("spot_ethusdt", 6_106 + 8_409), ("usdm_ethusdt", 1_640 + 12_015)],
)
def test_real_pair_stays_in_sync_and_matches_the_exchange_bbo(shared_data: Path, market: str, trades_expected: int):
    d = shared_data / "binance_ws_hftbacktest"
    days = ("20240808", "20240809") if market.startswith("spot") else ("20240718", "20240719")
    paths = [d / f"{market}_{day}.gz" for day in days]
    rejected, stats = RejectCounter(), {}
    book = list(book_events(paths, "ETH/USDT", rejected, stats))
    trades = list(trade_events(paths, "ETH/USDT", rejected, stats))

    assert rejected.total == 0 and stats.get("gaps", 0) == 0
    assert not [e for e in book if isinstance(e, FeedStatus)]
    assert book[0].is_snapshot and not any(e.is_snapshot for e in book[1:])
    assert len(trades) == trades_expected  # every @trade line, per the data README
    assert all(a.ts_ns <= b.ts_ns for a, b in zip(book, book[1:]))
    assert all(a.ts_ns <= b.ts_ns for a, b in zip(trades, trades[1:]))
    assert {t.aggressor for t in trades} == {Side.BUY, Side.SELL}

    # Where the exchange's own best bid/offer carries the same update id as a diff, the rebuilt
    # book's top must equal it exactly: the strongest evidence that the book is in sync.
    bbo = _bbo_by_update_id(paths)
    ob, checked = OrderBook("ETH/USDT"), 0
    for ev in book:
        (ob.apply_snapshot if ev.is_snapshot else ob.apply_diff)(ev.bids, ev.asks, ev.ts_ns)
        if not ev.is_snapshot and ev.last_id in bbo:
            assert (ob.best_bid, ob.best_ask) == bbo[ev.last_id]
            checked += 1
    assert checked > 400


def _line(ts: int, obj: dict) -> str:
    return f"{ts} {json.dumps(obj)}\n"


def _diff(u_first: int, u_last: int, bids=(), asks=(), e_ms: int = 0) -> dict:
    data = {"e": "depthUpdate", "E": 1_700_000_000_000 + e_ms, "s": "ETHUSDT", "U": u_first, "u": u_last,
            "b": [list(x) for x in bids], "a": [list(x) for x in asks]}
    return {"stream": "ethusdt@depth@100ms", "data": data}


def _trade(tid: int, price: str, e_ms: int) -> dict:
    t = 1_700_000_000_000 + e_ms
    return {"stream": "ethusdt@trade", "data": {"e": "trade", "E": t, "T": t, "s": "ETHUSDT", "t": tid, "p": price, "q": "0.5", "m": False}}


def test_corrupted_stream_is_counted_with_reasons_not_crashed_on(tmp_path: Path):
    snap = lambda lid: {"lastUpdateId": lid, "bids": [["100", "1"], ["99", "2"]], "asks": [["101", "1"], ["102", "1"]]}  # noqa: E731
    lines = [
        _diff(1, 5, bids=[("100", "1")], e_ms=1),  # logged before the snapshot: held, then dropped (u <= 5)
        snap(5),
        _diff(6, 7, bids=[("99.5", "3")], e_ms=2),
        "this is not json",
        _trade(1, "NaN", 3),
        _trade(2, "100.5", 4),
        _diff(8, 8, bids=[("101.5", "1")], e_ms=5),  # would cross the ask at 101: refused alone
        _diff(9, 9, asks=[("103", "1")], e_ms=6),  # chains on the refused diff's ids
        snap(9),  # in sync: ignored
        _diff(11, 11, asks=[("104", "1")], e_ms=7),  # U should be 10: a gap, the book goes on unsynced
        _diff(13, 13, asks=[("105", "1")], e_ms=8),  # another hole, counted, not announced twice
        _diff(14, 14, asks=[("106", "1")], e_ms=9),
    ]
    path = tmp_path / "spot_ethusdt_20240101.gz"
    with gzip.open(path, "wt") as fh:
        for i, obj in enumerate(lines):
            fh.write(f"{1_699_999_999_000_000_000 + i} {obj}\n" if isinstance(obj, str) else _line(1_699_999_999_000_000_000 + i, obj))

    rejected, stats = RejectCounter(), {}
    book = list(book_events([path], "ETH/USDT", rejected, stats))
    trades = list(trade_events([path], "ETH/USDT", rejected, stats))

    assert rejected.by_reason == {"malformed": 1, "non_finite_price": 1, "crossed_book": 1, "sequence_gap": 2}
    assert stats["gaps"] == 2 and stats["snapshots_ignored"] == 1
    gaps = [e.detail for e in book if isinstance(e, FeedStatus)]
    assert len(gaps) == 1 and gaps[0].startswith("ETH/USDT: sequence_gap: U=11") and gaps[0].endswith("unsynced until a snapshot")
    applied = [(e.is_snapshot, e.last_id) for e in book if isinstance(e, BookEvent)]
    assert applied == [(True, 5), (False, 7), (False, 9), (False, 11), (False, 13), (False, 14)]
    assert [(t.trade_id, t.price) for t in trades] == [(2, 100.5)]
    assert isinstance(trades[0], TradeEvent) and trades[0].aggressor is Side.BUY


def test_diffs_without_any_snapshot_are_counted_unused(tmp_path: Path):
    path = tmp_path / "spot_ethusdt_20240102.gz"
    with gzip.open(path, "wt") as fh:
        for i in range(3):
            fh.write(_line(1_700_000_000_000_000_000 + i, _diff(10 + i, 10 + i, bids=[("100", "1")], e_ms=i)))
    rejected = RejectCounter()
    out = list(book_events([path], "ETH/USDT", rejected, {}))
    assert rejected.by_reason == {"no_snapshot": 3}
    assert len(out) == 1 and out[0].state == "gap" and "no depth snapshot" in out[0].detail


def test_truncated_gzip_is_counted(tmp_path: Path):
    whole = gzip.compress("".join(_line(1_700_000_000_000_000_000 + i, _trade(i, "100", i)) for i in range(2000)).encode())
    path = tmp_path / "spot_ethusdt_20240103.gz"
    path.write_bytes(whole[: len(whole) // 2])
    rejected = RejectCounter()
    trades = list(trade_events([path], "ETH/USDT", rejected, {}))
    assert 0 < len(trades) < 2000
    assert rejected.by_reason.get("truncated_file") == 1


@pytest.mark.parametrize("level, reason", [
    (["nan", "1"], "non_finite_price"), (["0", "1"], "non_positive_price"), (["1", "-1"], "bad_qty")])
def test_bad_book_levels_get_one_reason_everywhere(level, reason):
    """Binance diffs, ccxt books and BookEvent itself refuse a level by the same rule and key."""
    assert parse_diff(0, {"U": 1, "u": 1, "b": [level], "a": []}).bad == reason
    with pytest.raises(InvalidEvent) as ccxt_book:
        book_levels({"bids": [[float(x) for x in level]], "asks": []}, 20)
    with pytest.raises(InvalidEvent) as event:
        BookEvent(0, "ETH/USDT", np.array([level], dtype=float), np.empty((0, 2)), True).validate()
    assert ccxt_book.value.reason == event.value.reason == reason


def test_a_gap_resyncs_from_the_next_snapshot(tmp_path: Path):
    """After a gap the book goes on unsynced; the next snapshot resyncs it, and the diffs it
    does not cover (logged before it, u > lastUpdateId) are applied again on top of it."""
    snap = lambda lid, bid: {"lastUpdateId": lid, "bids": [[bid, "1"]], "asks": [["101", "1"]]}  # noqa: E731
    lines = [
        snap(5, "99"),
        _diff(6, 7, bids=[("99.5", "3")], e_ms=1),
        _diff(9, 9, asks=[("103", "1")], e_ms=2),  # U should be 8: gap
        _diff(10, 11, asks=[("104", "1")], e_ms=3),  # covered by the snapshot below
        _diff(12, 12, asks=[("105", "1")], e_ms=4),  # logged before it, not covered: applied again
        snap(11, "98"),
        _diff(13, 13, asks=[("106", "1")], e_ms=5),
        _diff(13, 13, asks=[("106", "1")], e_ms=6),  # sent twice: stale
    ]
    path = tmp_path / "spot_ethusdt_20240104.gz"
    with gzip.open(path, "wt") as fh:
        for i, obj in enumerate(lines):
            fh.write(_line(1_700_000_000_000_000_000 + i, obj))
    rejected, stats = RejectCounter(), {}
    out = list(book_events([path], "ETH/USDT", rejected, stats))
    assert rejected.by_reason == {"sequence_gap": 1, "stale_diff": 1}
    assert [e.state for e in out if isinstance(e, FeedStatus)] == ["gap", "recovered"]
    applied = [(e.is_snapshot, e.last_id) for e in out if isinstance(e, BookEvent)]
    assert applied == [(True, 5), (False, 7), (False, 9), (False, 11), (False, 12), (True, 11), (False, 12), (False, 13)]
    assert stats["resyncs"] == 1 and stats["gaps"] == 1
    assert all(a.ts_ns <= b.ts_ns for a, b in zip(out, out[1:]))


def test_a_stale_level_that_crosses_the_stream_twice_is_deleted(tmp_path: Path):
    """A phantom bid the stream never deletes would refuse every later ask that reaches it; the
    second diff that crosses the same resting level is applied and the level deleted."""
    lines = [
        {"lastUpdateId": 5, "bids": [["100", "1"]], "asks": [["101", "1"]]},
        _diff(6, 6, bids=[("100.5", "1")], e_ms=1),  # looks fine, never deleted by the stream
        _diff(7, 7, asks=[("100.4", "1")], e_ms=2),  # crosses it: refused
        _diff(8, 8, asks=[("100.3", "2")], e_ms=3),  # crosses it again: the bid is the stale one
        _diff(9, 9, bids=[("100.2", "1")], e_ms=4),
    ]
    path = tmp_path / "spot_ethusdt_20240105.gz"
    with gzip.open(path, "wt") as fh:
        for i, obj in enumerate(lines):
            fh.write(_line(1_700_000_000_000_000_000 + i, obj))
    rejected, stats = RejectCounter(), {}
    out = [e for e in book_events([path], "ETH/USDT", rejected, stats) if isinstance(e, BookEvent)]
    assert rejected.by_reason == {"crossed_book": 1} and stats["stale_levels_removed"] == 1
    assert [e.last_id for e in out] == [5, 6, 8, 9]
    ob = OrderBook("ETH/USDT")
    for ev in out:
        (ob.apply_snapshot if ev.is_snapshot else ob.apply_diff)(ev.bids, ev.asks, ev.ts_ns)
        assert not ob.is_crossed
    assert (ob.best_bid, ob.best_ask) == (100.2, 100.3)
