"""The sanity band and the trade-id window in the market state: what reaches the book, the
bars and the models, on synthetic events with the shipped `[sanity]` limits."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import load_settings
from engine.core.clock import EventClock
from engine.core.enums import Side
from engine.core.events import BarEvent, BookEvent, TradeEvent
from engine.core.units import NS_PER_S
from engine.market.state import MarketState

SYM = "ETH/USDT"
T0 = 1_723_161_600 * NS_PER_S


@pytest.fixture
def market() -> MarketState:
    return MarketState((SYM,), EventClock(), sanity=load_settings(use_user_config=False).sanity)


def _trade(i: int, price: float, qty: float = 0.5, tid: int | None = None, dt_s: float = 0.1) -> TradeEvent:
    return TradeEvent(T0 + int(i * dt_s * NS_PER_S), SYM, price, qty, Side.BUY, tid if tid is not None else 1_000 + i)


def test_one_foreign_trade_id_does_not_make_later_trades_duplicates(market):
    assert market.apply(_trade(0, 2600.0))
    assert market.apply(_trade(1, 2600.0, tid=10**15))
    assert all(market.apply(_trade(i, 2600.0)) for i in range(2, 1_700))
    assert market.apply(_trade(1_700, 2600.0, tid=1_002)) is False  # a real repeat is still one
    assert market.rejected.by_reason == {"duplicate": 1} and market[SYM].counters.trades == 1_700


@pytest.mark.parametrize("price, qty, reason", [
    (1e300, 0.5, "price_out_of_range"), (1e-300, 0.5, "price_out_of_range"),
    (2600.0, 1e300, "size_out_of_range"), (2600.0, 1e-300, "size_out_of_range"),
    (26000.0, 0.5, "price_out_of_band"), (260.0, 0.5, "price_out_of_band"),
])
def test_absurd_trades_are_counted_and_change_nothing(market, price, qty, reason):
    market.apply(_trade(0, 2600.0))
    assert market.apply(_trade(1, price, qty)) is False
    assert market.rejected.by_reason == {reason: 1}
    assert market[SYM].last_price == 2600.0 and market[SYM].counters.trades == 1


def test_the_first_print_is_held_to_the_absolute_limits(market):
    assert market.apply(_trade(0, 1e300)) is False
    assert market.apply(_trade(1, 2600.0)) and market[SYM].last_price == 2600.0


def test_a_real_move_reanchors_the_band_after_agreeing_prints(market):
    """A market that really moved (data after a halt) is refused reanchor_after - 1 times, then
    followed; a run of prints that disagree with each other never moves it."""
    limits = load_settings(use_user_config=False).sanity
    market.apply(_trade(0, 2600.0))
    for i in range(1, 40):  # scattered nonsense: each far from the last, never a run
        market.apply(_trade(i, 26000.0 * (1 + 9 * (i % 2))))
    assert market[SYM].last_price == 2600.0
    moved = [market.apply(_trade(100 + i, 6000.0 + i)) for i in range(limits.reanchor_after + 5)]
    assert moved == [False] * (limits.reanchor_after - 1) + [True] * 6
    assert market[SYM].last_price == 6000.0 + limits.reanchor_after + 4


def test_the_band_widens_with_the_time_since_the_last_good_price(market):
    market.apply(_trade(0, 2600.0))
    assert market.apply(_trade(1, 6000.0, dt_s=60.0)) is False  # x2.3 within a minute: refused
    assert market.apply(_trade(1, 6000.0, dt_s=86_400.0))  # after a day the band is x2^sqrt(24), ~x30


def _book(bids, asks, snapshot=False, i=0) -> BookEvent:
    return BookEvent(T0 + i, SYM, np.array(bids, dtype=float).reshape(-1, 2), np.array(asks, dtype=float).reshape(-1, 2), snapshot)


def test_book_levels_far_from_the_touch_pass_absurd_ones_are_left_out(market):
    assert market.apply(_book([[2600.0, 1.0], [900.0, 5.0]], [[2601.0, 1.0], [7000.0, 1.0]], snapshot=True))
    assert market.apply(_book([[950.0, 1.0]], [[6900.0, 2.0]], i=1))  # deep levels, real books have them
    # the bad levels are left out (counted), the rest of each diff is applied
    assert market.apply(_book([[26000.0, 1.0], [2599.0, 3.0]], [], i=2))  # would become the best bid
    assert market.apply(_book([], [[2601.0, 1e-300], [2602.0, 1.0]], i=3))
    assert market.apply(_book([], [[1e300, 1.0]], i=4))
    assert market.rejected.by_reason == {"price_out_of_band": 1, "size_out_of_range": 1, "price_out_of_range": 1}
    book = market[SYM].book
    assert (book.best_bid, book.best_ask) == (2600.0, 2601.0)
    bids, asks = book.top(5)
    assert bids[:, 0].tolist() == [2600.0, 2599.0, 950.0, 900.0] and asks[:, 0].tolist() == [2601.0, 2602.0, 6900.0, 7000.0]
    assert asks[0, 1] == 1.0  # the 1e-300 size never replaced the real one


def test_bars_keep_real_wicks_and_lose_absurd_ones(market):
    bar = lambda i, o, h, l, c, v=10.0: BarEvent(T0 + i * 60 * NS_PER_S, SYM, "1m", o, h, l, c, v)  # noqa: E731
    assert market.apply(bar(0, 2600.0, 2610.0, 2590.0, 2605.0))
    assert market.apply(bar(1, 2605.0, 2606.0, 900.0, 2600.0))  # a flash wick: kept
    assert market.apply(bar(2, 2600.0, 1e300, 2590.0, 2601.0)) is False
    assert market.apply(bar(3, 2601.0, 2602.0, 2600.0, 2601.0, v=1e300)) is False
    assert market.apply(bar(4, 26010.0, 26020.0, 26000.0, 26010.0)) is False
    assert market.rejected.by_reason == {"price_out_of_range": 1, "size_out_of_range": 1, "price_out_of_band": 1}
