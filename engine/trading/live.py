"""Real orders through ccxt, only when the user asked for live orders (and confirmed).

Amounts and prices are rounded to the exchange's precision and checked against its minimum
amount and cost before anything is sent, with an error that says which limit. The API key and
secret come only from the environment (TICKDESK_API_KEY, TICKDESK_API_SECRET); they are handed
to ccxt and never stored on the router, logged or shown (`repr` and errors leave them out).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Mapping

import ccxt
import ccxt.async_support

from engine.core.events import check_price, check_qty
from engine.market.book import OrderBook
from engine.trading.paper import EXCHANGE_FILL, OrderRejected, OrderRequest, OrderUnknown
from engine.trading.portfolio import Fill

log = logging.getLogger(__name__)

KEY_VAR, SECRET_VAR = "TICKDESK_API_KEY", "TICKDESK_API_SECRET"


class LiveOrdersError(RuntimeError):
    """Live orders cannot be placed: missing credentials, or an order outside the market's limits."""


def _default_exchange(exchange_id: str, config: dict) -> Any:
    cls = getattr(ccxt.async_support, exchange_id, None)
    if cls is None:
        raise LiveOrdersError(f"unknown exchange {exchange_id!r} (not in ccxt)")
    return cls(config)


class LiveOrderRouter:
    """Places market or limit orders and returns fill-like dicts (price, qty, fee, ts_ns, ...)."""

    def __init__(
        self,
        exchange_id: str,
        *,
        exchange_factory: Callable[[str, dict], Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        missing = [v for v in (KEY_VAR, SECRET_VAR) if not env.get(v)]
        if missing:
            raise LiveOrdersError(f"live orders need {KEY_VAR} and {SECRET_VAR} in the environment; missing: {', '.join(missing)}")
        config = {"apiKey": env[KEY_VAR], "secret": env[SECRET_VAR], "enableRateLimit": True}
        self.exchange_id = exchange_id
        self._exchange = (exchange_factory or _default_exchange)(exchange_id, config)

    def __repr__(self) -> str:
        return f"LiveOrderRouter(exchange={self.exchange_id!r}, credentials=<from environment>)"

    async def place(
        self,
        symbol: str,
        side: str,
        qty: float,
        *,
        price: float | None = None,
        ref_price: float | None = None,
        client_id: str | None = None,
    ) -> dict:
        """A limit order when `price` is given, else a market order. `ref_price` (e.g. the mid)
        is used for the minimum-cost check of market orders; `client_id` is sent as the
        client order id, by which `find` asks for the order when its answer was lost."""
        if side not in ("buy", "sell"):
            raise LiveOrdersError(f"side must be buy or sell, got {side!r}")
        ex = self._exchange
        markets = await ex.load_markets()
        market = markets.get(symbol)
        if market is None:
            raise LiveOrdersError(f"{self.exchange_id} does not list {symbol}")
        check_qty(qty)
        try:
            amount = float(ex.amount_to_precision(symbol, qty))
            limit_px = float(ex.price_to_precision(symbol, check_price(price))) if price is not None else None
        except ccxt.InvalidOrder as exc:  # rounds to nothing: below the smallest step
            raise LiveOrdersError(f"{qty} {symbol} is below the minimum step: {exc}") from None
        self._check_limits(symbol, market, amount, limit_px or ref_price)
        order_type = "limit" if limit_px is not None else "market"
        log.info("live order: %s %s %s %s @ %s", self.exchange_id, side, amount, symbol, limit_px or "market")
        params = {"clientOrderId": client_id} if client_id else {}
        order = await ex.create_order(symbol, order_type, side, amount, limit_px, params)
        return self._fill(symbol, side, order)

    async def find(self, symbol: str, client_id: str) -> dict | None:
        """The order sent under `client_id` as a fill-like dict, with the fees of its trades
        (an order query does not report them); None when the exchange has no such order."""
        ex = self._exchange
        await ex.load_markets()
        try:
            order = await ex.fetch_order(None, symbol, {"clientOrderId": client_id})
        except ccxt.OrderNotFound:
            return None
        if not (order.get("fees") or order.get("fee")) and order.get("filled"):
            trades = await ex.fetch_my_trades(symbol, params={"orderId": order["id"]})
            order = {**order, "fees": [t["fee"] for t in trades if t.get("fee")]}
        return self._fill(symbol, order.get("side"), order)

    @staticmethod
    def _check_limits(symbol: str, market: dict, amount: float, px: float | None) -> None:
        limits = market.get("limits") or {}
        min_amount = (limits.get("amount") or {}).get("min")
        if amount <= 0 or (min_amount is not None and amount < min_amount):
            raise LiveOrdersError(f"amount {amount} (after rounding to {symbol}'s precision) is below the minimum {min_amount}")
        min_cost = (limits.get("cost") or {}).get("min")
        if min_cost is not None and px is not None and amount * px < min_cost:
            raise LiveOrdersError(f"order value {amount * px:.8g} is below {symbol}'s minimum cost {min_cost}")

    @staticmethod
    def _fill(symbol: str, side: str, order: dict) -> dict:
        fees = order.get("fees") or ([order["fee"]] if order.get("fee") else [])
        return {
            "order_id": order.get("id"),
            "symbol": symbol,
            "side": side,
            "status": order.get("status"),
            "price": order.get("average") or order.get("price"),
            "qty": order.get("filled") if order.get("filled") is not None else order.get("amount"),
            "fee": sum(float(f.get("cost") or 0.0) for f in fees),
            "fee_currency": next((f.get("currency") for f in fees if f.get("currency")), None),
            "ts_ns": int(order["timestamp"]) * 1_000_000 if order.get("timestamp") is not None else None,
        }

    async def close(self) -> None:
        await self._exchange.close()


class LiveExecutor:
    """The executor for `--live-orders`: same interface as the paper executor, real fills.

    The fill is built from what the exchange reports (average price, filled amount, fee);
    a fee charged in a third currency (e.g. BNB) cannot be priced here, so it is logged and
    left out of PnL rather than guessed. Orders are journaled (`OrderService` writes each to
    the ledger under its client id before it is sent): when the answer to an order is lost
    (a network error, a 5xx: Binance documents its status then as unknown, or an
    answer that cannot be read), the exchange is
    asked about it by that id instead of sending it again or assuming it failed."""

    journaled = True

    def __init__(self, router: LiveOrderRouter) -> None:
        self.router = router

    async def execute(self, order: OrderRequest, book: OrderBook, ts_ns: int) -> Fill:
        touch = book.best_ask if order.side.value == "buy" else book.best_bid
        try:
            done = await self.router.place(order.symbol, order.side.value, order.qty, ref_price=book.mid,
                                           client_id=order.client_id)
        except ccxt.OperationFailed as exc:  # ccxt: "may or may not have been processed" (network, bad answer)
            return await self._asked_for(order, touch, type(exc).__name__)
        except (LiveOrdersError, ccxt.BaseError) as exc:
            raise OrderRejected(f"exchange refused the order: {exc}") from None
        if done["order_id"] is None:  # an answer ccxt could not read (cut off, not JSON): no order in it
            return await self._asked_for(order, touch, "an unreadable answer")
        if not done["price"] or not done["qty"]:
            raise OrderRejected(f"order {done['order_id']} reported no fill (status {done['status']})")
        return self._to_fill(order, done, touch, ts_ns)

    async def _asked_for(self, order: OrderRequest, touch: float | None, why: str) -> Fill:
        """The answer to `order` was lost: its fill as the exchange reports it by client id."""
        log.warning("order %s: no usable answer (%s); asking the exchange for it", order.client_id, why)
        found = await self.lookup(order, touch)
        if found is None:
            raise OrderRejected(f"exchange did not take the order ({why}): nothing was placed")
        return found

    async def lookup(self, order: OrderRequest, touch: float | None = None) -> Fill | None:
        """The fill of the journaled `order`, asked of the exchange by its client id; None
        when the exchange has no such order or it ended without a fill. Raises OrderUnknown
        when the exchange cannot be asked, or the order is still working."""
        try:
            found = await self.router.find(order.symbol, order.client_id)
        except ccxt.BaseError as exc:
            raise OrderUnknown(f"order {order.client_id} on {order.symbol}: its state is unknown"
                               f" ({type(exc).__name__}: {exc})") from None
        if found is None or not found["qty"]:
            return None
        if found["status"] == "open":
            raise OrderUnknown(f"order {order.client_id} on {order.symbol} is still working on the exchange")
        return self._to_fill(order, found, touch, found["ts_ns"])

    @staticmethod
    def _to_fill(order: OrderRequest, done: dict, touch: float | None, ts_ns: int | None) -> Fill:
        price, qty = float(done["price"]), float(done["qty"])
        base, quote = order.symbol.split("/")
        fee = float(done["fee"])
        if done["fee_currency"] == base:
            fee *= price
        elif done["fee_currency"] not in (None, quote):
            log.warning("fee of %s %s on order %s is not in %s; left out of PnL", fee, done["fee_currency"],
                        done["order_id"], quote)
            fee = 0.0
        return Fill(
            ts_ns=done["ts_ns"] or ts_ns, symbol=order.symbol, side=order.side, qty=qty, price=price, fee=fee,
            slippage=abs(price - touch) * qty if touch else 0.0, source=order.source, signal_id=order.signal_id,
            order_id=str(done["order_id"]), fill_model=EXCHANGE_FILL, client_id=order.client_id,
        )

    async def close(self) -> None:
        await self.router.close()
