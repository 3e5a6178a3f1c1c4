"""The DQN replay strata of a closed trade: "extrema" from what was known at entry,
"clear_move" when the move beat both the fees and the noise of the holding time."""

import pytest

from engine.learning.outcomes import experience_tags

MINUTE_NS = 60_000_000_000


def trade(exit_price: float, fees: float = 0.4, hold_min: float = 4.0) -> dict:
    # 1 ETH at 2,000: 0.4 fees = 2 bp of notional
    return {"qty": 1.0, "entry_price": 2000.0, "exit_price": exit_price, "fees": fees,
            "entry_ns": 0, "exit_ns": int(hold_min * MINUTE_NS)}


@pytest.mark.parametrize(("pos", "extrema"), [(0.0, True), (0.04, True), (0.5, False), (0.96, True), (None, False)])
def test_extrema_is_the_entry_at_the_edge_of_the_last_hours_range(pos, extrema) -> None:
    assert experience_tags(trade(2000.0), {"range_pos_1h": pos})["extrema"] is extrema


def test_clear_move_needs_three_times_the_fees() -> None:
    assert not experience_tags(trade(2001.0), {})["clear_move"]  # 5 bp < 3 x 2 bp of fees
    assert experience_tags(trade(2001.4), {})["clear_move"]  # 7 bp
    assert experience_tags(trade(1998.6), {})["clear_move"]  # either direction
    assert not experience_tags(trade(2000.0, fees=0.0), {})["clear_move"]  # no move at all


def test_clear_move_needs_one_sigma_over_the_holding_time() -> None:
    # 20 bp move over 4 minutes: sigma 1m 8 bp -> 16 bp expected noise (clear), 12 bp -> 24 (not)
    assert experience_tags(trade(2004.0), {"sigma_1m_bp": 8.0})["clear_move"]
    assert not experience_tags(trade(2004.0), {"sigma_1m_bp": 12.0})["clear_move"]
