"""Live orders across lost answers and a kill: journaled under a client order id before they
are sent, asked for at the exchange by it, never lost and never sent twice.

A real ccxt binance client talks to the loopback server (recorded market data; orders kept
under the client ids the client sent). The engine is the one `tickdesk run --live-orders`
builds; a "kill" cancels the order in flight and drops the engine without closing it, so
nothing more reaches the ledger than a kill -9 would leave there.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

import engine.trading.live as live_orders
import engine.venues.live as live_venue
from engine.config import load_settings
from engine.core.enums import Side
from engine.runtime.wiring import create_engine
from engine.trading.paper import OrderRejected
from tests.integration.binance_loopback import BinanceLoopback, recorded_routes
from tests.integration.test_live_ccxt import BINANCE_ORDER_FULL, ENV

SYMBOL = "BTC/USDT"
FILLED_QTY, FILLED_VALUE, FEE_BTC = 0.001234, 11.1540768, 0.00000123  # BINANCE_ORDER_FULL


@pytest.fixture
async def server(shared_data, monkeypatch):
    srv = await BinanceLoopback(recorded_routes(shared_data)).start()
    srv.advance_trades = True
    srv.order_response = BINANCE_ORDER_FULL
    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    private = {"fetchCurrencies": False, "fetchMargins": False}  # nothing private is recorded
    monkeypatch.setattr(live_venue, "default_exchange", lambda exchange_id, use_websockets=True: srv.exchange(exchange_id))
    monkeypatch.setattr(live_orders, "_default_exchange",
                        lambda exchange_id, config: srv.exchange(exchange_id, **config, options=private))
    yield srv
    await srv.stop()


def live_settings(tmp_path):
    return load_settings(use_user_config=False, overrides={
        "venue": {"kind": "live", "exchange": "binance", "symbols": [SYMBOL], "traded": SYMBOL},
        "trading": {"live_orders": True, "order_qty": {SYMBOL: 0.0012}},
        "storage": {"db": str(tmp_path / "live.db")},
        "models": {"enabled": False},
    })


async def started(settings):
    """A started live engine with orders confirmed and a book for the symbol, from its feed;
    the feed is then stopped, so the loopback's faults meet only the order requests."""
    engine = create_engine(settings)
    await engine.start()
    feed = asyncio.create_task(engine.run())
    for _ in range(200):
        if not engine.market[SYMBOL].book.is_empty:
            break
        await asyncio.sleep(0.05)
    engine.stop()
    await feed
    assert not engine.market[SYMBOL].book.is_empty, "the loopback feed gave no book"
    engine.orders_confirmed = True
    return engine


def journal(db) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM live_orders ORDER BY sent_ns")]


def fills(db) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM fills")]


async def killed_with_an_order_in_flight(settings, server, *, unsent: bool = False) -> str:
    """Send an order whose answer never comes, and kill the process while it waits; with
    `unsent`, the request is held before it reaches the order route."""
    engine = await started(settings)
    if unsent:
        server.faults.append(("hang", 3))
    submit = asyncio.create_task(engine.submit(Side.BUY))
    for _ in range(200):
        if journal(settings.db_path):
            break
        await asyncio.sleep(0.02)
    [row] = journal(settings.db_path)
    assert row["status"] == "sent"  # journaled before it was sent
    for _ in range(200):
        if server.requests.count("POST /api/v3/order") or (unsent and not server.faults):
            break
        await asyncio.sleep(0.02)
    submit.cancel()
    await asyncio.gather(submit, return_exceptions=True)
    await engine.ledger.conn.close()  # what a kill leaves: the ledger as committed, nothing more
    await engine.venue.close()
    await engine.executor.close()
    return row["client_id"]


@pytest.mark.parametrize("lost", [503, "malformed"])  # a 5xx (Binance: outcome unknown), an answer cut off
async def test_an_order_whose_answer_is_lost_is_found_by_its_client_id(tmp_path, server, lost):
    settings = live_settings(tmp_path)
    server.lost_answers.append(lost)  # placed, then the answer lost
    engine = await started(settings)
    try:
        plan = await engine.submit(Side.BUY)
    finally:
        await engine.close()
    assert server.requests.count("POST /api/v3/order") == 1, "asked for, never sent again"
    assert server.requests.count("GET /api/v3/order") == 1 and server.requests.count("GET /api/v3/myTrades") == 1
    [row] = journal(settings.db_path)
    assert row["client_id"] in server.placed and row["status"] == "filled" and row["exchange_id"] == "28"
    [fill] = fills(settings.db_path)
    assert fill["order_id"] == "28" and fill["fill_model"] == "exchange" and fill["qty"] == FILLED_QTY
    assert fill["price"] == pytest.approx(FILLED_VALUE / FILLED_QTY)
    assert fill["fee"] == pytest.approx(FEE_BTC * fill["price"])  # the trades' commissions, in USDT
    assert plan.after is not None and plan.after.qty == FILLED_QTY


async def test_an_order_sent_before_a_kill_is_recorded_on_the_next_start(tmp_path, server):
    settings = live_settings(tmp_path)
    server.lost_answers.append(("stall", 3))
    client_id = await killed_with_an_order_in_flight(settings, server)
    assert fills(settings.db_path) == [] and client_id in server.placed  # on the exchange, not in the ledger

    engine = create_engine(settings)
    await engine.start()
    try:
        pos = engine.portfolio.position(SYMBOL)
        said = list(engine.messages)
        link = await engine.ledger.signal_links([pos.id])
    finally:
        await engine.close()
    assert pos is not None and pos.side is Side.BUY and pos.qty == FILLED_QTY
    assert any(client_id in m and "filled" in m for m in said), said
    assert link[pos.id]["signal_id"] == pos.signal_id is not None, "the position keeps the signal that opened it"
    [row] = journal(settings.db_path)
    assert row["status"] == "filled" and [f["order_id"] for f in fills(settings.db_path)] == ["28"]
    assert server.requests.count("POST /api/v3/order") == 1


async def test_an_order_the_exchange_never_got_is_marked_not_placed(tmp_path, server):
    settings = live_settings(tmp_path)
    await killed_with_an_order_in_flight(settings, server, unsent=True)
    assert server.placed == {}

    engine = create_engine(settings)
    await engine.start()
    try:
        assert engine.portfolio.position(SYMBOL) is None
        assert any("was not placed" in m for m in engine.messages)
    finally:
        await engine.close()
    [row] = journal(settings.db_path)
    assert row["status"] == "not_placed" and fills(settings.db_path) == []


async def test_an_order_of_unknown_state_blocks_its_symbol_until_the_exchange_answers(tmp_path, server):
    settings = live_settings(tmp_path)
    engine = await started(settings)
    try:
        await engine.submit(Side.BUY)  # a round trip first: the order client has the markets
        await engine.close_position()
        server.lost_answers.append(503)
        server.order_query_faults.append(503)  # ... and the lookup cannot reach the exchange either
        with pytest.raises(OrderRejected, match="state is unknown"):
            await engine.submit(Side.BUY)
        assert len(fills(settings.db_path)) == 2 and journal(settings.db_path)[-1]["status"] == "sent"
        # the trader presses BUY again: the first order is asked for, found filled, and recorded;
        # the second is not sent, which would have doubled the position
        with pytest.raises(OrderRejected, match="earlier order .* filled .* this one was not sent"):
            await engine.submit(Side.BUY)
        assert engine.portfolio.position(SYMBOL).qty == FILLED_QTY
        await engine.close_position()  # the symbol takes orders again
    finally:
        await engine.close()
    assert server.requests.count("POST /api/v3/order") == 4  # nothing sent twice
    assert [r["status"] for r in journal(settings.db_path)] == ["filled"] * 4
    assert len(fills(settings.db_path)) == 4
