import numpy as np
import pytest

from engine.market.book import OrderBook
from engine.core.enums import Side
from engine.trading.paper import OrderRejected, OrderRequest, PaperExecutor


def book():
    b = OrderBook("ETH/USDT")
    b.apply_snapshot(np.array([[99.0, 1.0], [98.0, 2.0]]), np.array([[101.0, 1.0], [102.0, 2.0]]), 1)
    return b


def test_market_buy_walks_the_asks_and_pays_the_taker_fee():
    f = PaperExecutor(0.001).fill(OrderRequest("ETH/USDT", Side.BUY, 2.0), book(), 5)
    assert f.price == pytest.approx((101.0 + 102.0) / 2)
    assert f.fee == pytest.approx(f.price * 2.0 * 0.001)
    assert f.slippage == pytest.approx((f.price - 101.0) * 2.0)


def test_market_sell_hits_the_bids():
    f = PaperExecutor(0.0).fill(OrderRequest("ETH/USDT", Side.SELL, 0.5), book(), 5)
    assert f.price == pytest.approx(99.0) and f.slippage == 0.0


def test_orders_beyond_depth_crossed_or_empty_books_are_refused():
    ex = PaperExecutor(0.0)
    with pytest.raises(OrderRejected, match="exceeds visible depth"):
        ex.fill(OrderRequest("ETH/USDT", Side.BUY, 5.0), book(), 5)
    with pytest.raises(OrderRejected, match="no order book"):
        ex.fill(OrderRequest("ETH/USDT", Side.BUY, 1.0), OrderBook("ETH/USDT"), 5)
    crossed = OrderBook("ETH/USDT")
    crossed.apply_snapshot(np.array([[101.0, 1.0]]), np.array([[100.0, 1.0]]), 1)
    with pytest.raises(OrderRejected, match="crossed"):
        ex.fill(OrderRequest("ETH/USDT", Side.BUY, 1.0), crossed, 5)
    with pytest.raises(OrderRejected, match="> 0"):
        ex.fill(OrderRequest("ETH/USDT", Side.BUY, 0.0), book(), 5)
