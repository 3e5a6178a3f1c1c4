import math

import pytest
from hypothesis import given, strategies as st

from engine.core.enums import Side
from engine.trading.portfolio import Fill, Portfolio


def fill(side, qty, price, fee_rate=0.0002, ts=1_000_000_000, source="manual"):
    return Fill(ts, "ETH/USDT", side, qty, price, price * qty * fee_rate, 0.0, source, fill_model="book_walk")


def apply(p, f):
    plan = p.plan_fill(f)
    p.apply(plan)
    return plan


def test_long_round_trip_pnl_is_net_of_both_fees():
    p = Portfolio(10_000)
    apply(p, fill(Side.BUY, 2.0, 100.0))
    plan = apply(p, fill(Side.SELL, 2.0, 110.0, ts=61_000_000_000))
    c = plan.closed
    assert c is not None and p.position("ETH/USDT") is None
    assert c.gross_pnl == pytest.approx(20.0)
    assert c.fees == pytest.approx(2 * 100 * 0.0002 + 2 * 110 * 0.0002)
    assert c.pnl == pytest.approx(20.0 - c.fees)
    assert c.hold_s == pytest.approx(60.0)
    assert p.balance == pytest.approx(10_000 + c.pnl)


def test_short_profits_when_price_falls():
    p = Portfolio(10_000)
    apply(p, fill(Side.SELL, 1.0, 200.0))
    pos = p.position("ETH/USDT")
    assert pos.side is Side.SELL and pos.unrealized(190.0) == pytest.approx(10.0)
    c = apply(p, fill(Side.BUY, 1.0, 190.0)).closed
    assert c.side is Side.SELL and c.gross_pnl == pytest.approx(10.0)


def test_adding_averages_entry_and_partial_reduce_keeps_position():
    p = Portfolio(10_000)
    apply(p, fill(Side.BUY, 1.0, 100.0))
    apply(p, fill(Side.BUY, 1.0, 110.0))
    assert p.position("ETH/USDT").entry_price == pytest.approx(105.0)
    plan = apply(p, fill(Side.SELL, 0.5, 120.0))
    assert plan.closed is None
    assert p.position("ETH/USDT").qty == pytest.approx(1.5)
    assert p.balance == pytest.approx(10_000 - plan.fees_after + 0.5 * 15.0)


def test_flip_closes_the_old_position_and_opens_the_other_side():
    p = Portfolio(10_000)
    apply(p, fill(Side.BUY, 1.0, 100.0))
    plan = apply(p, fill(Side.SELL, 3.0, 100.0))
    assert plan.closed is not None and plan.closed.qty == pytest.approx(1.0)
    pos = p.position("ETH/USDT")
    assert pos.side is Side.SELL and pos.qty == pytest.approx(2.0)
    assert pos.id != plan.closed.id
    # the fee is split: a third to the closing trade, two thirds to the new position
    assert pos.fees == pytest.approx(3 * 100 * 0.0002 * 2 / 3)


def test_rule_close_is_labelled_rule_and_keeps_the_opener():
    p = Portfolio(10_000)
    apply(p, fill(Side.BUY, 1.0, 100.0, source="auto"))
    c = apply(p, fill(Side.SELL, 1.0, 99.0, source="rule")).closed
    assert (c.source, c.open_source, c.close_source) == ("rule", "auto", "rule")


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_bad_fill_price_is_rejected_before_any_arithmetic(bad):
    p = Portfolio(10_000)
    with pytest.raises(ValueError, match="fill rejected"):
        p.plan_fill(Fill(1, "ETH/USDT", Side.BUY, 1.0, bad, 0.0, 0.0, "manual", fill_model="book_walk"))
    assert p.balance == 10_000 and not p.positions


@given(
    prices=st.lists(st.floats(min_value=1.0, max_value=1e5), min_size=2, max_size=12),
    qtys=st.lists(st.floats(min_value=0.001, max_value=10.0), min_size=2, max_size=12),
)
def test_cash_plus_positions_is_conserved(prices, qtys):
    """Balance always equals initial + realised PnL - fees, whatever the fill sequence."""
    p = Portfolio(1_000_000)
    realised, fees = 0.0, 0.0
    for i, (px, q) in enumerate(zip(prices, qtys)):
        plan = apply(p, fill(Side.BUY if i % 3 != 2 else Side.SELL, q, px, ts=i + 1))
        fees += plan.fill.fee
        if plan.before is not None and plan.before.side is not plan.fill.side:
            reduce = min(plan.before.qty, q)
            realised += plan.before.side.sign * (px - plan.before.entry_price) * reduce
    assert math.isfinite(p.balance)
    assert p.balance == pytest.approx(1_000_000 + realised - fees, rel=1e-9, abs=1e-6)
