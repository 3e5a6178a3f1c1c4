"""LiveVenue and LiveOrderRouter against a loopback server answering with recorded Binance REST data.

The real ccxt binance client is used; only the host of its API URLs is rewritten to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest

from tests.integration.binance_loopback import BinanceLoopback, recorded_routes
from engine.core.enums import Side
from engine.core.events import BookEvent, FeedStatus, TradeEvent
from engine.trading.live import KEY_VAR, SECRET_VAR, LiveOrderRouter, LiveOrdersError
from engine.venues.live import LiveVenue

ENV = {KEY_VAR: "test-key-AAAA", SECRET_VAR: "test-secret-BBBB"}


@pytest.fixture
async def server(shared_data: Path):
    srv = await BinanceLoopback(recorded_routes(shared_data)).start()
    yield srv
    await srv.stop()


@pytest.fixture
def recorded_agg_trades(shared_data: Path) -> list[dict]:
    gct = json.loads(gzip.open(shared_data / "gocryptotrader" / "binance_spot_rest_recorded_2020.json.gz").read())
    return gct["routes"]["/api/v3/aggTrades"][0]["response"]


def _venue(server: BinanceLoopback, **kw) -> LiveVenue:
    opts = dict(stale_after_s=5.0, use_websockets=False, poll_interval_s=0.05, backoff_base_s=0.01, backoff_max_s=0.05)
    return LiveVenue("binance", ("BTC/USDT",), exchange_factory=server.exchange, **{**opts, **kw})


async def _collect(venue: LiveVenue, until, timeout: float = 10.0) -> list:
    out = []

    async def run():
        async for ev in venue.events():
            out.append(ev)
            if until(out):
                return

    await asyncio.wait_for(run(), timeout)
    return out


async def test_ccxt_client_reads_recorded_market_data(server):
    ex = server.exchange()
    try:
        markets = await ex.load_markets()
        assert {"BTC/USDT", "ETH/USDT"} <= set(markets) and len(markets) == 786
        ohlcv = await ex.fetch_ohlcv("BTC/USDT", "1m", limit=300)
        assert len(ohlcv) == 60 and ohlcv[0][:2] == [1588740120000, 9033.34]
        book = await ex.fetch_order_book("BTC/USDT", 1000)
        assert book["nonce"] == 7145155359 and len(book["bids"]) == len(book["asks"]) == 1000
        trades = await ex.fetch_trades("BTC/USDT")
        assert len(trades) == 1000 and trades[0]["id"] == "284861205" and trades[0]["side"] == "sell"
    finally:
        await ex.close()


async def test_warmup_history_respects_limit_and_skips_missing_timeframes(server):
    venue = _venue(server)
    try:
        bars = await venue.warmup()
    finally:
        await venue.close()
    by_tf = {tf: [b for b in bars if b.timeframe == tf] for tf in ("1s", "1m", "1h", "1d")}
    assert len(by_tf["1m"]) == 60 and len(by_tf["1h"]) == 3  # everything recorded
    assert len(by_tf["1d"]) == 300  # 365 recorded, limit 300: the newest 300
    assert by_tf["1d"][-1].ts_ns == 1577750400000 * 1_000_000  # 2019-12-31
    assert by_tf["1s"] == [] and venue.errors == {"BadRequest": 1}  # nothing recorded for 1s


async def test_rest_polling_yields_deduplicated_trades_then_book(server, recorded_agg_trades):
    venue = _venue(server)
    try:
        events = await _collect(venue, lambda evs: sum(isinstance(e, BookEvent) for e in evs) >= 3)
    finally:
        await venue.close()
    assert isinstance(events[0], FeedStatus) and events[0].state == "connected"
    trades = [e for e in events if isinstance(e, TradeEvent)]
    assert len(trades) == len(recorded_agg_trades) == 1000  # three polls, each trade once
    first = recorded_agg_trades[0]
    assert (trades[0].trade_id, trades[0].price, trades[0].ts_ns) == (first["a"], float(first["p"]), first["T"] * 1_000_000)
    assert trades[0].aggressor is (Side.SELL if first["m"] else Side.BUY)
    book = [e for e in events if isinstance(e, BookEvent)]
    assert book[0].is_snapshot and book[0].bids.shape == (20, 2) and book[0].last_id == 7145155359
    assert book[0].ts_ns == trades[-1].ts_ns  # no exchange time on Binance REST depth: the symbol's latest
    assert venue.stats()["BTC/USDT"]["trades"] == 1000 and venue.rejected.total == 0


async def test_errors_back_off_and_recover(server):
    server.faults.extend([429, 503, "malformed"])
    venue = _venue(server)
    try:
        events = await _collect(venue, lambda evs: any(isinstance(e, TradeEvent) for e in evs))
    finally:
        await venue.close()
    states = [e.state for e in events if isinstance(e, FeedStatus)]
    assert states == ["connected", "reconnecting", "reconnecting", "reconnecting", "recovered"]
    assert venue.errors == {"DDoSProtection": 1, "ExchangeNotAvailable": 1, "BadResponse": 1}
    assert venue.stats()["BTC/USDT"]["reconnects"] == 1


async def test_rate_limit_answers_are_waited_out_as_long_as_they_ask(server):
    """Binance bans an IP (HTTP 418) that retries sooner than a 429's Retry-After asks."""
    server.faults.extend([{"status": 429, "Retry-After": "0.3"}, {"status": 418, "Retry-After": "0.6"}, 503])
    venue = _venue(server)
    try:
        events = await _collect(venue, lambda evs: any(isinstance(e, TradeEvent) for e in evs))
    finally:
        await venue.close()
    waits = [e.detail.rpartition("; ")[2] for e in events if isinstance(e, FeedStatus) and e.state == "reconnecting"]
    assert waits[:2] == ["retry 1 in 0.30s (Retry-After)", "retry 2 in 0.60s (Retry-After)"]
    assert not waits[2].endswith("(Retry-After)") and float(waits[2].split(" in ")[1][:-1]) <= 0.05  # a 503: backoff


def test_retry_after_reads_seconds_and_http_dates():
    from email.utils import formatdate
    import time

    from engine.venues.live import retry_after_s

    assert retry_after_s({"retry-after": "5"}) == 5.0
    assert 55 < retry_after_s({"Retry-After": formatdate(time.time() + 60, usegmt=True)}) <= 60
    assert retry_after_s({"Retry-After": "soon"}) is None and retry_after_s(None) is None


async def test_silent_feed_goes_stale_then_recovers(server):
    server.faults.append(("delay", 1.0))
    venue = _venue(server, stale_after_s=0.3)
    try:
        events = await _collect(venue, lambda evs: any(isinstance(e, FeedStatus) and e.state == "recovered" for e in evs))
    finally:
        await venue.close()
    states = [e.state for e in events if isinstance(e, FeedStatus)]
    assert states == ["connected", "stale", "recovered"]
    assert "no data" in next(e.detail for e in events if isinstance(e, FeedStatus) and e.state == "stale")
    # the venue's own state is venue-wide; stale and recovered name the symbol they are about
    assert [e.symbol for e in events if isinstance(e, FeedStatus)] == [None, *venue.symbols[:1] * 2]


BINANCE_ORDER_FULL = {  # shape of Binance's POST /api/v3/order FULL response (test data)
    "symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "tickdesk-1",
    "transactTime": 1588749200000, "price": "0.00000000", "origQty": "0.00123400", "executedQty": "0.00123400",
    "cummulativeQuoteQty": "11.15407680", "status": "FILLED", "timeInForce": "GTC", "type": "MARKET", "side": "BUY",
    "fills": [
        {"price": "9039.00000000", "qty": "0.00100000", "commission": "0.00000100", "commissionAsset": "BTC", "tradeId": 1},
        {"price": "9040.20000000", "qty": "0.00023400", "commission": "0.00000023", "commissionAsset": "BTC", "tradeId": 2},
    ],
}


async def test_live_order_rounds_to_precision_and_returns_a_fill(server):
    server.order_response = BINANCE_ORDER_FULL
    # nothing private is recorded except the order: no wallet currency list on market load
    factory = lambda eid, cfg: server.exchange(eid, **cfg, options={"fetchCurrencies": False, "fetchMargins": False})  # noqa: E731
    router = LiveOrderRouter("binance", exchange_factory=factory, env=ENV)
    try:
        assert "test-key" not in repr(router) and "test-secret" not in repr(router)
        fill = await router.place("BTC/USDT", "buy", 0.0012345678, ref_price=9039.0)
        with pytest.raises(LiveOrdersError, match="minimum"):
            await router.place("BTC/USDT", "buy", 0.0000004, ref_price=9039.0)
        with pytest.raises(LiveOrdersError, match="minimum cost"):
            await router.place("BTC/USDT", "buy", 0.0001, ref_price=9039.0)
    finally:
        await router.close()
    assert server.requests.count("POST /api/v3/order") == 1  # the two refused orders never left
    assert fill["qty"] == 0.001234 and fill["status"] == "closed" and fill["ts_ns"] == 1588749200000 * 1_000_000
    assert fill["price"] == pytest.approx(11.1540768 / 0.001234)
    assert fill["fee"] == pytest.approx(0.00000123) and fill["fee_currency"] == "BTC"


def test_live_orders_need_both_environment_variables():
    with pytest.raises(LiveOrdersError, match=f"{KEY_VAR}.*{SECRET_VAR}.*missing: {SECRET_VAR}"):
        LiveOrderRouter("binance", env={KEY_VAR: "k"})
