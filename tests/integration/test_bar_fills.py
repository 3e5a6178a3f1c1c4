"""Orders on a bars-only market (kline replay), end to end through the engine on planted bars
whose every price the test chose: an order sent at a bar's close fills at the next bar's
open moved by half the stated spread, plus the taker fee; stop-loss and take-profit are
checked on each bar's high and low (stop-loss first when both are touched, the open when the
bar gapped through); max hold closes at the next open; a headless replay opens and closes
trades; and a market with a book still walks it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.enums import Side, Source
from engine.trading.paper import QUEUED, OrderRejected, QueuedOrder
from tests.conftest import REPO
from tests.helpers import run_round_trip, sim_engine
from tests.planted_bars import bar_engine, flat_bars, open_ns, write_klines

SPREAD_BP = 4.0                   # half of it, 2 bp, is paid per fill: half and full cannot be confused
HALF = SPREAD_BP / 2 / 1e4
FEE = 0.001
QTY = 0.5                         # the configured ETH/USDT order size
STOP, TARGET = 0.005, 0.01        # the configured 0.5 % stop-loss and 1 % take-profit
TRADING = {"bar_spread_bp": SPREAD_BP, "taker_fee": FEE}


def eth_engine(tmp_path: Path, bars, **sections):
    return bar_engine(tmp_path, [write_klines(tmp_path, "ethusdt", bars)], trading=TRADING, **sections)


async def fills(engine) -> list[dict]:
    async with engine.ledger.conn.execute("SELECT * FROM fills ORDER BY rowid") as cur:
        return [dict(r) for r in await cur.fetchall()]


async def open_long_at_bar_4(engine, side: Side = Side.BUY) -> None:
    """Start, run bars 0..3, send `side` at bar 3's close; it fills at bar 4's open."""
    await engine.start()
    await engine.run(3 * 60)
    assert engine.clock.now_ns() == open_ns(4), "the session should stand at bar 3's close"
    queued = await engine.submit(side)
    assert isinstance(queued, QueuedOrder)


async def test_an_order_at_a_bars_close_fills_at_the_next_open_plus_half_spread_and_fee(tmp_path):
    bars = flat_bars(8)
    engine = eth_engine(tmp_path, bars)
    try:
        await engine.start()
        await engine.run(3 * 60)
        queued = await engine.submit(Side.BUY)
        # the trader is told the order waits for the next bar, and nothing has filled
        assert isinstance(queued, QueuedOrder) and queued.message == QUEUED == "order queued: fills at the next bar's open"
        assert any(QUEUED in m for m in engine.messages)
        assert engine.portfolio.position("ETH/USDT") is None and await fills(engine) == []
        with pytest.raises(OrderRejected, match="already queued"):
            await engine.submit(Side.BUY)  # one order per symbol waits for a bar

        await engine.run(60)  # bar 4
        pos = engine.portfolio.position("ETH/USDT")
        entry = bars[4][0] * (1 + HALF)
        assert pos is not None and pos.side is Side.BUY and pos.qty == QTY
        assert pos.entry_price == pytest.approx(entry, rel=1e-12)
        assert pos.entry_price != pytest.approx(bars[3][3] * (1 + HALF))  # not at the close it was decided on
        assert pos.opened_ns == open_ns(4) and pos.fees == pytest.approx(entry * QTY * FEE, rel=1e-12)
        assert engine.portfolio.balance == pytest.approx(10_000.0 - entry * QTY * FEE, rel=1e-12)
        assert engine.trades_opened == 1

        closing = await engine.close_position()
        assert isinstance(closing, QueuedOrder) and engine.portfolio.position("ETH/USDT") is not None
        await engine.run(60)  # bar 5
        exit_ = bars[5][0] * (1 - HALF)
        [row] = await engine.ledger.closed_trades()
        assert row["entry_price"] == pytest.approx(entry, rel=1e-12)
        assert row["exit_price"] == pytest.approx(exit_, rel=1e-12)
        assert row["pnl"] == pytest.approx((exit_ - entry) * QTY - (entry + exit_) * QTY * FEE, rel=1e-9)
        assert (row["entry_ns"], row["exit_ns"]) == (open_ns(4), open_ns(5))
        assert row["entry_fill_model"] == row["exit_fill_model"] == "bar_open+half_spread"
        buy, sell = await fills(engine)
        assert [f["fill_model"] for f in (buy, sell)] == ["bar_open+half_spread"] * 2
        assert buy["slippage"] == pytest.approx(bars[4][0] * HALF * QTY, rel=1e-9)  # what the half spread cost
        assert sell["slippage"] == pytest.approx(bars[5][0] * HALF * QTY, rel=1e-9)
        model = engine.orders.fill_model()
        assert model["fills"] == {"bar_open+half_spread": 2} and model["bar_spread_bp"] == SPREAD_BP
    finally:
        await engine.close()


async def test_a_bar_that_opened_before_the_order_does_not_fill_it(tmp_path):
    """BTC's bar of each minute arrives before ETH's: an ETH order sent on BTC's bar 3 close
    was decided before ETH's bar 3 was seen, and bar 3 opened in the past; it fills at bar 4."""
    eth, btc = flat_bars(8), flat_bars(8, 60_000.0, 10.0)
    files = [write_klines(tmp_path, "btcusdt", btc), write_klines(tmp_path, "ethusdt", eth)]
    engine = bar_engine(tmp_path, files, trading=TRADING)
    try:
        await engine.start()
        await engine.run(3 * 60)
        assert engine.market["ETH/USDT"].bars.last_price == eth[2][3]  # ETH's bar 3 is still to come
        await engine.submit(Side.BUY)
        await engine.run(60)  # ETH bar 3 (skipped), then BTC bar 4
        assert engine.portfolio.position("ETH/USDT") is None and "ETH/USDT" in engine.orders.pending
        await engine.run(60)  # ETH bar 4
        pos = engine.portfolio.position("ETH/USDT")
        assert pos.entry_price == pytest.approx(eth[4][0] * (1 + HALF), rel=1e-12)
        assert pos.opened_ns == open_ns(4)
    finally:
        await engine.close()


def with_bar_5(bar) -> list:
    bars = flat_bars(8)
    bars[5] = bar
    return bars


# entry at bar 4's open, 2004, plus half spread: 2004.4008; stop 1994.3788, target 2024.4448
ENTRY_LONG = 2004.0 * (1 + HALF)


@pytest.mark.parametrize("bar5, reference, model, reason", [
    # inside the range: the level
    ((2003.0, 2005.0, 1990.0, 1992.0), ENTRY_LONG * (1 - STOP), "bar_level+half_spread", "stop-loss -0.50%"),
    ((2005.0, 2030.0, 2002.0, 2028.0), ENTRY_LONG * (1 + TARGET), "bar_level+half_spread", "take-profit +1.00%"),
    # both inside one bar: the bar does not say which came first; the stop-loss is taken
    ((2003.0, 2030.0, 1990.0, 2010.0), ENTRY_LONG * (1 - STOP), "bar_level+half_spread", "stop-loss -0.50%"),
    # gapped through at the open: the open
    ((1980.0, 1985.0, 1975.0, 1982.0), 1980.0, "bar_open+half_spread", "stop-loss"),
    ((2040.0, 2045.0, 1990.0, 2041.0), 2040.0, "bar_open+half_spread", "take-profit"),
])
async def test_a_long_exits_on_the_bars_range(tmp_path, bar5, reference, model, reason):
    engine = eth_engine(tmp_path, with_bar_5(bar5))
    try:
        await open_long_at_bar_4(engine)
        await engine.run(2 * 60)  # bars 4 and 5
        [row] = await engine.ledger.closed_trades()
        exit_ = reference * (1 - HALF)  # a long sells: half the spread below
        assert row["entry_price"] == pytest.approx(ENTRY_LONG, rel=1e-12)
        assert row["exit_price"] == pytest.approx(exit_, rel=1e-12)
        assert row["fees"] == pytest.approx((ENTRY_LONG + exit_) * QTY * FEE, rel=1e-9)
        assert row["pnl"] == pytest.approx((exit_ - ENTRY_LONG) * QTY - row["fees"], rel=1e-9)
        assert row["close_source"] == Source.RULE and row["exit_fill_model"] == model
        # a gap fills when the bar opened; a touch inside it is known at its close
        assert row["exit_ns"] == (open_ns(5) if model == "bar_open+half_spread" else open_ns(6))
        assert any(f"position closed by {reason}" in m for m in engine.messages), list(engine.messages)
        assert engine.portfolio.position("ETH/USDT") is None
    finally:
        await engine.close()


async def test_a_short_stops_on_the_bars_high(tmp_path):
    engine = eth_engine(tmp_path, with_bar_5((2005.0, 2020.0, 2003.0, 2015.0)))
    try:
        await open_long_at_bar_4(engine, Side.SELL)
        await engine.run(2 * 60)
        [row] = await engine.ledger.closed_trades()
        entry = 2004.0 * (1 - HALF)
        exit_ = entry * (1 + STOP) * (1 + HALF)  # buys back at the stop, half a spread above
        assert row["side"] == "sell" and row["entry_price"] == pytest.approx(entry, rel=1e-12)
        assert row["exit_price"] == pytest.approx(exit_, rel=1e-12)
        assert row["pnl"] == pytest.approx((entry - exit_) * QTY - (entry + exit_) * QTY * FEE, rel=1e-9)
    finally:
        await engine.close()


async def test_the_bar_an_order_fills_in_is_checked_for_the_stop(tmp_path):
    bars = flat_bars(8)
    bars[4] = (2004.0, 2005.0, 1990.0, 1991.0)  # opens at the entry, falls through the stop
    engine = eth_engine(tmp_path, bars)
    try:
        await open_long_at_bar_4(engine)
        await engine.run(60)  # bar 4 only
        [row] = await engine.ledger.closed_trades()
        assert row["exit_price"] == pytest.approx(ENTRY_LONG * (1 - STOP) * (1 - HALF), rel=1e-12)
        assert (row["entry_ns"], row["exit_ns"]) == (open_ns(4), open_ns(5))
    finally:
        await engine.close()


async def test_max_hold_closes_at_the_next_bars_open(tmp_path):
    bars = flat_bars(9)
    engine = eth_engine(tmp_path, bars, risk={"max_hold_s": 120.0})
    try:
        await open_long_at_bar_4(engine)
        await engine.run(2 * 60)  # bars 4, 5: held 120 s at bar 5's close
        assert engine.portfolio.position("ETH/USDT") is not None  # a close at market waits for a price
        assert any("max hold 120s: close queued" in m for m in engine.messages)
        await engine.run(60)  # bar 6
        [row] = await engine.ledger.closed_trades()
        assert row["exit_price"] == pytest.approx(bars[6][0] * (1 - HALF), rel=1e-12)
        assert row["exit_ns"] == open_ns(6) and row["close_source"] == Source.RULE
        assert row["exit_fill_model"] == "bar_open+half_spread"
    finally:
        await engine.close()


async def test_a_market_with_a_book_still_walks_it(tmp_path):
    engine = sim_engine(str(tmp_path / "sim.db"))
    await run_round_trip(engine, Side.BUY, keep_open=True)
    try:
        [row] = await engine.ledger.closed_trades()
        assert row["entry_fill_model"] == row["exit_fill_model"] == "book_walk"
        assert engine.orders.fill_model()["fills"] == {"book_walk": 2}
    finally:
        await engine.close()


def test_headless_replay_on_bars_opens_and_closes_trades(tmp_path):
    """`tickdesk run` on a bars-only replay with auto-trading: trades open and close, every
    fill is a bar fill, and the summary states the fill model. The models trade on every
    decision (threshold 0), so whatever they decide, positions open; a 3-minute max hold
    closes them whatever the models decide next."""
    n = 90
    eth = [(2000.0 + 3 * (i % 7), 2004.0 + 3 * (i % 7), 1997.0 + 3 * (i % 7), 2001.0 + 3 * (i % 7)) for i in range(n)]
    btc = [(o * 30, h * 30, l * 30, c * 30) for o, h, l, c in eth]
    data = [write_klines(tmp_path, "ethusdt", eth), write_klines(tmp_path, "btcusdt", btc)]
    config = tmp_path / "c.toml"
    config.write_text("[models]\nconfidence_threshold = 0.0\ncalibration_min_pairs = 20\nexplore_per_hour_start = 600.0\n[risk]\nmax_hold_s = 180.0\n")
    out, db = tmp_path / "s.json", tmp_path / "h.db"
    proc = subprocess.run(
        [sys.executable, str(REPO / "cli.py"), "run", "--venue", "replay", *sum((["--data", str(p)] for p in data), []),
         "--speed", "max", "--auto", "--config", str(config), "--db", str(db), "--summary-json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert "ready" in summary["models_status"], summary["models_status"]
    assert summary["trades_opened"] >= 1 and summary["trades_closed"] >= 1, summary
    model = summary["fill_model"]
    assert model["bar_spread_bp"] == 2.0 and model["taker_fee"] == 0.0002  # the shipped defaults
    assert "bar_open+half_spread" in model["bars"] and "book_walk" in model["book"]
    assert set(model["fills"]) <= {"bar_open+half_spread", "bar_level+half_spread"}
    assert model["fills"]["bar_open+half_spread"] >= summary["trades_opened"]
    opens = {1_748_563_200_000_000_000 + i * 60_000_000_000: bar[0] for i, bar in enumerate(eth)}
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT ts_ns, side, price FROM fills WHERE fill_model = 'bar_open+half_spread'").fetchall()
    assert rows
    for ts, side, price in rows:  # each at a bar's open, half of 2 bp against the taker
        assert price == pytest.approx(opens[ts] * (1 + (1 if side == "buy" else -1) * 1e-4), rel=1e-12)
