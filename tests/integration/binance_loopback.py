"""A loopback HTTP server that answers Binance REST calls with recorded responses.

Routes come from real recorded Binance payloads: gocryptotrader's `/api/v3/*` recordings and the
`httpResponse` of ccxt's own static fixtures. A request gets the recorded response for its path
whose query agrees best with the request's (a recorded `interval`/`symbol` that differs never
matches). Tests can queue faults (HTTP 429/503, malformed JSON, a delay) for the next requests,
and set the body answered to order placement; placed orders are kept under their client
order ids and answer order queries and `myTrades`, and an order's answer can be lost after it
was placed; with `advance_trades` each aggregate-trades
answer moves the recording on in time, so a client sees a market that goes on. A real ccxt
client is pointed here by rewriting the scheme and host of every URL in its `urls['api']`.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections import deque
from pathlib import Path
from urllib.parse import parse_qsl

import ccxt.async_support
from aiohttp import web

_CCXT_PATHS = {"fetchOHLCV": "/api/v3/klines", "fetchOrderBook": "/api/v3/depth", "fetchTrades": "/api/v3/aggTrades"}


def recorded_routes(shared_data: Path) -> dict[str, list[tuple[dict, object]]]:
    """path -> [(recorded query, response)] from the gocryptotrader and ccxt_static recordings."""
    routes: dict[str, list[tuple[dict, object]]] = {}
    gct = json.loads(gzip.open(shared_data / "gocryptotrader" / "binance_spot_rest_recorded_2020.json.gz").read())
    for path, entries in gct["routes"].items():
        for e in entries:
            routes.setdefault(path, []).append((dict(parse_qsl(e["query"])), e["response"]))
    static = json.loads((shared_data / "ccxt_static" / "binance_response_marketdata.json").read_text())
    for method, cases in static["methods"].items():
        for case in cases:
            symbol = case["input"][0]
            if method not in _CCXT_PATHS or "/" not in symbol or ":" in symbol:
                continue  # spot only: the server plays api.binance.com
            query = {"symbol": symbol.replace("/", "")}
            if method == "fetchOHLCV":
                query["interval"] = case["input"][1]
            routes.setdefault(_CCXT_PATHS[method], []).append((query, case["httpResponse"]))
    return routes


class BinanceLoopback:
    def __init__(self, routes: dict[str, list[tuple[dict, object]]]) -> None:
        self.routes = routes
        # 429, 503, "malformed", ("delay", seconds) then answered, ("hang", seconds) then dropped
        # unhandled, {"status": 429, header: value}
        self.faults: deque = deque()
        self.order_response: dict | None = None
        self.orders = 0
        self.placed: dict[str, dict] = {}  # client order id -> the order as answered when placed
        # For the next orders: placed, then the answer lost: an HTTP status (a 5xx, whose
        # outcome Binance documents as unknown), "malformed" (cut off) or ("stall", seconds)
        self.lost_answers: deque = deque()
        self.order_query_faults: deque = deque()  # HTTP statuses for the next order queries only
        self.advance_trades = False  # each aggTrades answer is the recording moved on past the last
        self._trade_rounds = 0
        self.requests: list[str] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> "BinanceLoopback":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def exchange(self, exchange_id: str = "binance", **config) -> ccxt.async_support.Exchange:
        """A real ccxt binance client whose every API URL points at this server."""
        assert exchange_id == "binance"
        ex = ccxt.async_support.binance({"enableRateLimit": False, "timeout": 5000, **config})
        ex.options["fetchMarkets"] = {"types": ["spot"]}
        for key, url in ex.urls["api"].items():
            ex.urls["api"][key] = re.sub(r"^https://[^/]+", self.base_url, url)
        return ex

    def _match(self, path: str, query: dict) -> object | None:
        best, best_score = None, -1
        for recorded, response in self.routes.get(path, []):
            if any(k in query and query[k] != v for k, v in recorded.items() if k in ("interval", "symbol")):
                continue
            score = sum(query.get(k) == v for k, v in recorded.items())
            if score > best_score:
                best, best_score = response, score
        return best

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.method} {request.path}")
        if self.faults:
            fault = self.faults.popleft()
            if isinstance(fault, tuple):
                await asyncio.sleep(fault[1])
                if fault[0] == "hang":  # held, then dropped unhandled
                    return web.Response(status=504, text="gateway timeout")
            elif fault == "malformed":
                return web.Response(text='{"code": 0, "truncated', content_type="application/json")
            elif isinstance(fault, dict):  # a status with headers, e.g. {"status": 429, "Retry-After": "2"}
                headers = {k: v for k, v in fault.items() if k != "status"}
                return web.Response(status=fault["status"], text=f"recorded fault {fault['status']}", headers=headers)
            else:
                return web.Response(status=fault, text=f"recorded fault {fault}")
        if request.path == "/api/v3/order" and self.order_response is not None:
            params = {**request.query, **(await request.post())}
            return await (self._place(params) if request.method == "POST" else self._order(params))
        if request.path == "/api/v3/myTrades":
            return self._my_trades(dict(request.query))
        body = self._match(request.path, dict(request.query))
        if body is None:
            return web.json_response({"code": -1100, "msg": f"nothing recorded for {request.path}"}, status=400)
        if self.advance_trades and request.path == "/api/v3/aggTrades":
            body = self._moved_on(body)
        return web.json_response(body)

    def _moved_on(self, trades: list[dict]) -> list[dict]:
        """The recorded aggregate trades as the next stretch of a live market: ids and times
        moved past the previous answer's, prices and sizes as recorded."""
        span_ms = trades[-1]["T"] - trades[0]["T"] + 1
        ids = trades[-1]["a"] - trades[0]["a"] + 1
        k, self._trade_rounds = self._trade_rounds, self._trade_rounds + 1
        return [{**t, "a": t["a"] + k * ids, "T": t["T"] + k * span_ms} for t in trades]

    async def _place(self, params: dict) -> web.Response:
        self.orders += 1  # each order its own id, as on the exchange, under the client's id
        order = {**self.order_response, "orderId": self.order_response["orderId"] + self.orders - 1,
                 "clientOrderId": params.get("newClientOrderId", f"loopback-{self.orders}")}
        self.placed[order["clientOrderId"]] = order
        if self.lost_answers:
            lost = self.lost_answers.popleft()
            if isinstance(lost, tuple):
                await asyncio.sleep(lost[1])
            elif lost == "malformed":
                return web.Response(text='{"symbol": "BTCUSDT", "orderId', content_type="application/json")
            else:
                return web.Response(status=lost, text="placed, answer lost")
        return web.json_response(order)

    async def _order(self, params: dict) -> web.Response:
        """GET /api/v3/order by origClientOrderId: the order in the query's shape (no fills)."""
        if self.order_query_faults:
            status = self.order_query_faults.popleft()
            return web.Response(status=status, text=f"recorded fault {status}")
        order = self.placed.get(params.get("origClientOrderId", ""))
        if order is None:
            return web.json_response({"code": -2013, "msg": "Order does not exist."}, status=400)
        shown = {k: v for k, v in order.items() if k not in ("fills", "transactTime")}
        return web.json_response({**shown, "time": order["transactTime"], "updateTime": order["transactTime"],
                                  "isWorking": False, "origQuoteOrderQty": "0.00000000"})

    def _my_trades(self, params: dict) -> web.Response:
        """GET /api/v3/myTrades by orderId: the placed order's fills with their commissions."""
        order = next((o for o in self.placed.values() if str(o["orderId"]) == params.get("orderId")), None)
        fills = order["fills"] if order else []
        return web.json_response([
            {"symbol": order["symbol"], "id": f["tradeId"], "orderId": order["orderId"], "orderListId": -1,
             "price": f["price"], "qty": f["qty"], "quoteQty": f"{float(f['price']) * float(f['qty']):.8f}",
             "commission": f["commission"], "commissionAsset": f["commissionAsset"], "time": order["transactTime"],
             "isBuyer": order["side"] == "BUY", "isMaker": False, "isBestMatch": True}
            for f in fills])
