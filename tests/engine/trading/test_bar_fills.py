"""The bar fill model on its own: half the stated spread against the taker plus the fee, and
which price band a bar's range touched (stop-loss first when both, the open when gapped,
nothing when the range stays inside the bands)."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from engine.config import RiskSettings
from engine.core.enums import Side, Source
from engine.core.events import BarEvent
from engine.trading.bar_fills import BAR_LEVEL, BAR_OPEN, BarFills
from engine.trading.paper import OrderRejected, OrderRequest
from engine.trading.portfolio import Position
from engine.trading.risk import bar_exit

RISK = RiskSettings(stop_loss_pct=0.5, take_profit_pct=1.0, max_hold_s=900.0)
ENTRY = 2000.0  # stop 1990 / target 2020 for a long; 2010 / 1980 for a short


def position(side: Side) -> Position:
    return Position(id="P1", symbol="ETH/USDT", side=side, qty=0.5, entry_price=ENTRY, opened_ns=0,
                    source=Source.AUTO, signal_id=None, entry_qty=0.5)


def bar(o: float, h: float, l: float, c: float) -> BarEvent:
    return BarEvent(60_000_000_000, "ETH/USDT", "1m", o, h, l, c, 1.0).validate()


def test_a_fill_pays_half_the_spread_against_the_taker_and_the_fee():
    model = BarFills(spread_bp=4.0, taker_fee=0.001)
    buy = model.fill(OrderRequest("ETH/USDT", Side.BUY, 2.0, Source.AUTO, "S1"), 2000.0, 7, BAR_OPEN)
    sell = model.fill(OrderRequest("ETH/USDT", Side.SELL, 2.0), 2000.0, 7, BAR_OPEN)
    assert buy.price == pytest.approx(2000.4) and sell.price == pytest.approx(1999.6)  # ± 2 bp
    assert buy.fee == pytest.approx(2000.4 * 2.0 * 0.001) and sell.fee == pytest.approx(1999.6 * 2.0 * 0.001)
    assert buy.slippage == pytest.approx(0.8) and sell.slippage == pytest.approx(0.8)
    assert (buy.fill_model, buy.ts_ns, buy.signal_id, buy.source) == (BAR_OPEN, 7, "S1", Source.AUTO)
    with pytest.raises(OrderRejected, match="> 0"):
        model.fill(OrderRequest("ETH/USDT", Side.BUY, float("nan")), 2000.0, 7, BAR_OPEN)


def test_a_zero_spread_fills_at_the_reference():
    f = BarFills(spread_bp=0.0, taker_fee=0.0).fill(OrderRequest("ETH/USDT", Side.BUY, 1.0), 2000.0, 1, BAR_LEVEL)
    assert f.price == 2000.0 and f.fee == 0.0 and f.slippage == 0.0


@pytest.mark.parametrize("side, b, reference, model, kind", [
    (Side.BUY, bar(1999, 2001, 1985, 1986), 1990.0, BAR_LEVEL, "stop-loss"),
    (Side.BUY, bar(2001, 2025, 1999, 2024), 2020.0, BAR_LEVEL, "take-profit"),
    (Side.BUY, bar(2001, 2025, 1985, 2000), 1990.0, BAR_LEVEL, "stop-loss"),     # both: stop first
    (Side.BUY, bar(1980, 1995, 1975, 1990), 1980.0, BAR_OPEN, "stop-loss"),      # gap down through the stop
    (Side.BUY, bar(2030, 2031, 1985, 2000), 2030.0, BAR_OPEN, "take-profit"),    # the open came first
    (Side.SELL, bar(2001, 2015, 1999, 2012), 2010.0, BAR_LEVEL, "stop-loss"),
    (Side.SELL, bar(1999, 2001, 1975, 1976), 1980.0, BAR_LEVEL, "take-profit"),
    (Side.SELL, bar(1999, 2015, 1975, 2000), 2010.0, BAR_LEVEL, "stop-loss"),    # both: stop first
    (Side.SELL, bar(2020, 2022, 2018, 2019), 2020.0, BAR_OPEN, "stop-loss"),     # gap up through the stop
])
def test_the_band_a_bar_touched(side, b, reference, model, kind):
    hit = bar_exit(position(side), b, RISK)
    assert hit is not None and hit.reason.startswith(kind), hit
    assert hit.reference == pytest.approx(reference, rel=1e-12) and hit.fill_model == model
    assert b.low <= hit.reference <= b.high


@given(side=st.sampled_from([Side.BUY, Side.SELL]), o=st.floats(1990.5, 2019.5),
       up=st.floats(0, 0.49), down=st.floats(0, 0.49))
def test_a_range_inside_both_bands_closes_nothing(side, o, up, down):
    # the bands are 1990..2020 for a long, 1980..2010 for a short: keep the range inside the narrower
    lo, hi = (1990.0, 2020.0) if side is Side.BUY else (1980.0, 2010.0)
    o = min(max(o, lo + 0.5), hi - 0.5)
    h, l = min(o + up * (hi - o), hi - 1e-6), max(o - down * (o - lo), lo + 1e-6)
    assert bar_exit(position(side), bar(o, h, l, o), RISK) is None
