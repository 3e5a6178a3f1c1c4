"""`python -m tests.integration.live_cli SHARED_DATA ARGS...`: the real `tickdesk` command line
on the live path, with every ccxt client it makes pointed at a BinanceLoopback.

The CLI has no URL option (a live venue talks to the real exchange), so this runner starts the
loopback in a thread, swaps the two factories that build ccxt clients (market data and
orders) for ones that return loopback clients, and then runs `cli.app(ARGS)` unchanged: its
logging set-up, its error messages, the engine, the ledger. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

from tests.integration.binance_loopback import BinanceLoopback, recorded_routes
from tests.integration.test_live_ccxt import BINANCE_ORDER_FULL


def serve(shared_data: Path) -> BinanceLoopback:
    """A loopback with a market that goes on and an order route, served from its own thread."""
    server = BinanceLoopback(recorded_routes(shared_data))
    server.advance_trades = True
    server.order_response = BINANCE_ORDER_FULL
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    if not ready.wait(30):
        raise RuntimeError("the loopback server did not start")
    return server


def main() -> None:
    shared_data, args = Path(sys.argv[1]), sys.argv[2:]
    server = serve(shared_data)

    import engine.trading.live as live_orders
    import engine.venues.live as live_venue

    # nothing private is recorded except the order: no wallet currency list on market load
    private = {"fetchCurrencies": False, "fetchMargins": False}
    live_venue.default_exchange = lambda exchange_id, use_websockets=True: server.exchange(exchange_id)
    live_orders._default_exchange = lambda exchange_id, config: server.exchange(exchange_id, **config, options=private)

    import cli

    cli.app(args, prog_name="tickdesk")


if __name__ == "__main__":
    main()
