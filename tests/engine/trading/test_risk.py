"""The risk rules that close a position on their own: stop-loss and take-profit on the move
from entry (in the position's favour for a short when the price falls), and the maximum
hold time; nothing closes while the mark is inside the bands and the hold is short."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from engine.config import RiskSettings
from engine.core.enums import Side, Source
from engine.core.units import NS_PER_S
from engine.trading.portfolio import Position
from engine.trading.risk import exit_reason

T0 = 1_723_075_200 * NS_PER_S
ENTRY = 2000.0  # 1% is 20.0 exactly, so the band edges are exact in floating point
RISK = RiskSettings(stop_loss_pct=0.5, take_profit_pct=1.0, max_hold_s=900.0)


def position(side: Side, entry: float = ENTRY) -> Position:
    return Position(id="P1", symbol="ETH/USDT", side=side, qty=0.5, entry_price=entry, opened_ns=T0,
                    source=Source.MANUAL, signal_id=None, entry_qty=0.5)


def after(seconds: float) -> int:
    return T0 + int(seconds * NS_PER_S)


@pytest.mark.parametrize("side, mark, kind", [
    (Side.BUY, 1990.0, "stop-loss"),      # long, -0.5%: at the stop
    (Side.BUY, 1900.0, "stop-loss"),      # long, gapped far through it
    (Side.BUY, 2020.0, "take-profit"),    # long, +1.0%
    (Side.BUY, 2100.0, "take-profit"),
    (Side.SELL, 2010.0, "stop-loss"),     # short loses when the price rises
    (Side.SELL, 2100.0, "stop-loss"),
    (Side.SELL, 1980.0, "take-profit"),   # short gains when it falls
    (Side.SELL, 1900.0, "take-profit"),
])
def test_price_bands_close_long_and_short(side, mark, kind):
    reason = exit_reason(position(side), mark, after(10), RISK)
    assert reason is not None and reason.startswith(kind), reason
    move = 100.0 * side.sign * (mark - ENTRY) / ENTRY
    assert f"{move:+.2f}%" in reason  # the trader sees the move that triggered it


@pytest.mark.parametrize("side, mark", [
    (Side.BUY, 1990.02), (Side.BUY, 2019.98), (Side.BUY, ENTRY),
    (Side.SELL, 2009.98), (Side.SELL, 1980.02), (Side.SELL, ENTRY),
])
def test_just_inside_the_bands_nothing_closes(side, mark):
    assert exit_reason(position(side), mark, after(899.999), RISK) is None


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_max_hold_closes_at_the_limit_not_before(side):
    assert exit_reason(position(side), ENTRY, after(900 - 1e-6), RISK) is None
    assert exit_reason(position(side), ENTRY, after(900), RISK) == "max hold 900s"
    assert exit_reason(position(side), ENTRY, after(5000), RISK) == "max hold 900s"


def test_the_configured_limits_are_the_ones_applied():
    wide = RiskSettings(stop_loss_pct=2.0, take_profit_pct=3.0, max_hold_s=60.0)
    long = position(Side.BUY)
    assert exit_reason(long, 1990.0, after(10), wide) is None      # a 0.5% loss is fine under a 2% stop
    assert exit_reason(long, 1960.0, after(10), wide).startswith("stop-loss")
    assert exit_reason(long, 2040.0, after(10), wide) is None
    assert exit_reason(long, 2060.0, after(10), wide).startswith("take-profit")
    assert exit_reason(long, ENTRY, after(60), wide) == "max hold 60s"


def test_a_price_band_is_named_before_the_clock():
    # both apply: the reason shown is the price move, which is what the trader acts on
    assert exit_reason(position(Side.SELL), 2010.0, after(900), RISK).startswith("stop-loss")


@given(side=st.sampled_from([Side.BUY, Side.SELL]),
       entry=st.floats(1e-3, 1e6),
       frac=st.floats(-0.999, 0.999),
       hold=st.floats(0, 899.0))
def test_no_exit_strictly_inside_the_bands(side, entry, frac, hold):
    # a favourable move between -stop and +take-profit, scaled into the open band
    move_pct = frac * (RISK.take_profit_pct if frac > 0 else RISK.stop_loss_pct)
    mark = entry * (1 + side.sign * move_pct / 100.0)
    assert exit_reason(position(side, entry), mark, after(hold), RISK) is None
