"""Bad lines injected into copies of a recorded Binance spot stream: every good event is kept,
every bad one is counted with its reason, and no absurd number reaches the market state.

The base is the first 20,000 lines of the ETHUSDT recording of 2024-08-08 (3,223 trades,
2,100 book updates, nothing rejected); each test corrupts a copy in tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.events import FeedStatus
from engine.venues.binance_ws import book_events
from engine.core.events import RejectCounter
from tests.engine.venues.faults import DEPTH, TRADE, Replayed, edit, field_of, indexes, read_lines, replay, spread, write_lines
from tests.recorded import WS_DAY1

BASE_LINES = 20_000
NAME = "spot_ethusdt_20240808.gz"


@pytest.fixture(scope="module")
def base_lines(shared_data: Path) -> list[str]:
    return read_lines(shared_data / WS_DAY1["ETH/USDT"], BASE_LINES)


@pytest.fixture(scope="module")
def base(base_lines: list[str], tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    out = replay(write_lines(tmp_path_factory.mktemp("base") / NAME, base_lines))
    assert (len(out.trades), len(out.book), out.rejected) == (3_223, 2_100, {})
    return out


def _replay(tmp_path: Path, lines: list[str]) -> Replayed:
    return replay(write_lines(tmp_path / NAME, lines))


def _without(items: list, drop: set) -> list:
    return [x for x in items if x not in drop]


@pytest.mark.parametrize("where", ["middle", "first trade", "three apart"])
def test_a_bogus_trade_id_costs_only_itself(tmp_path, base_lines, base, where):
    """A mark-based dedupe let one id of 10^15 make the next 1,611 good trades 'duplicates'."""
    lines = list(base_lines)
    trades = indexes(lines, TRADE)
    at = {"middle": [trades[len(trades) // 2]], "first trade": [trades[0]], "three apart": spread(trades, 3)}[where]
    for k, i in enumerate(sorted(at, reverse=True)):  # a copy of a real trade line, carrying a foreign id
        lines.insert(i + 1, edit(lines[i], t=10**15 + k))
    got = _replay(tmp_path, lines)
    assert got.trades == base.trades and got.book == base.book
    assert got.rejected == {"bad_trade_id": len(at)}


def test_a_stream_that_resumes_far_on_is_followed(tmp_path, base_lines, base):
    """Ids that jump and then go on consecutively are the stream itself (a recorder's pause),
    not a bad id: the second trade after the jump vouches for the first."""
    lines = list(base_lines)
    trades = indexes(lines, TRADE)
    for i in trades[len(trades) // 2:]:
        lines[i] = edit(lines[i], t=field_of(lines[i], "t") + 10**12)
    got = _replay(tmp_path, lines)
    assert len(got.trades) == len(base.trades) and got.rejected == {}


def test_duplicated_depth_diffs_are_dropped_as_stale(tmp_path, base_lines, base):
    """A diff with u <= the last applied u is dropped (Binance's rule), the book stays in sync."""
    lines = list(base_lines)
    diffs = indexes(lines, DEPTH)
    a, b, c = spread(diffs, 3)
    lines.insert(c + 40, lines[c])  # replayed again much later
    lines.insert(b + 1, lines[b])  # sent twice in a row
    lines.insert(a + 1, lines[a])
    got = _replay(tmp_path, lines)
    assert got.book == base.book and got.trades == base.trades
    assert got.rejected == {"stale_diff": 3}


@pytest.mark.parametrize("side", ["bid above the ask", "ask below the bid"])
def test_a_crossed_diff_costs_only_its_crossing_level(tmp_path, base_lines, base, side):
    """A diff that would cross the book is applied without the level that crosses (counted);
    one bad level once lost about 1,050 of 2,100 book updates."""
    lines = list(base_lines)
    i = spread(indexes(lines, DEPTH), 1)[0]
    last_trade = float(field_of(lines[max(j for j in indexes(lines, TRADE) if j < i)], "p"))
    if side == "bid above the ask":
        lines[i] = edit(lines[i], b=field_of(lines[i], "b") + [[f"{last_trade * 1.01:.2f}", "1.0"]])
    else:
        lines[i] = edit(lines[i], a=field_of(lines[i], "a") + [[f"{last_trade * 0.99:.2f}", "1.0"]])
    got = _replay(tmp_path, lines)
    assert got.book == base.book and got.trades == base.trades
    assert got.rejected == {"crossed_book": 1} and got.crossed_after == 0


def test_a_missing_diff_is_a_counted_gap_and_the_book_goes_on(tmp_path, base_lines, base):
    """One lost diff costs its own update: the book continues (announced unsynced), it does not
    wait for a snapshot that a recording never carries again."""
    lines = list(base_lines)
    i = spread(indexes(lines, DEPTH), 1)[0]
    u = field_of(lines[i], "u")
    del lines[i]
    got = _replay(tmp_path, lines)
    assert got.book == _without(base.book, {(False, u)}) and got.trades == base.trades
    assert got.rejected == {"sequence_gap": 1}
    path = write_lines(tmp_path / "again.gz", lines)
    gaps = [e for e in book_events([path], "ETH/USDT", RejectCounter(), {}) if isinstance(e, FeedStatus)]
    assert [g.state for g in gaps] == ["gap"] and f"U={u + 1} " in gaps[0].detail


@pytest.mark.parametrize("key, value, reason", [
    ("p", "1e300", "price_out_of_range"), ("p", "1e-300", "price_out_of_range"),
    ("q", "1e300", "size_out_of_range"), ("q", "1e-300", "size_out_of_range"),
])
def test_absurd_trade_prices_and_sizes_are_refused(tmp_path, base_lines, base, key, value, reason):
    """Five 1e300 prints once disabled the models for the session; now none reaches the market."""
    lines = list(base_lines)
    bad = spread(indexes(lines, TRADE), 5)
    ids = {field_of(lines[i], "t") for i in bad}
    for i in bad:
        lines[i] = edit(lines[i], **{key: value})
    got = _replay(tmp_path, lines)
    assert got.trades == _without(base.trades, ids) and got.book == base.book
    assert got.rejected == {reason: 5}
    assert 2_000 < min(got.prices) <= max(got.prices) < 3_000  # ETH near 2,680 that evening


def test_a_price_ten_times_off_is_out_of_band(tmp_path, base_lines, base):
    lines = list(base_lines)
    bad = spread(indexes(lines, TRADE), 5)
    ids = {field_of(lines[i], "t") for i in bad}
    for i in bad:
        lines[i] = edit(lines[i], p=f"{float(field_of(lines[i], 'p')) * 10:.2f}")
    got = _replay(tmp_path, lines)
    assert got.trades == _without(base.trades, ids) and got.rejected == {"price_out_of_band": 5}


@pytest.mark.parametrize("level, reason", [
    (["1e300", "1.0"], "price_out_of_range"), (["2700.00", "1e-300"], "size_out_of_range"),
    (["2700.00", "1e300"], "size_out_of_range"),
])
def test_absurd_book_levels_are_left_out_of_their_diff(tmp_path, base_lines, base, level, reason):
    """The bad level is counted and left out; the rest of its diff is good data and applied."""
    lines = list(base_lines)
    i = spread(indexes(lines, DEPTH), 1)[0]
    lines[i] = edit(lines[i], a=field_of(lines[i], "a") + [level])
    got = _replay(tmp_path, lines)
    assert got.book == base.book and got.trades == base.trades
    assert got.rejected == {reason: 1}
    top = got.market["ETH/USDT"].book
    assert 2_000 < top.best_bid < top.best_ask < 3_000
