"""The reward: finite for any input, monotone in PnL, and golden values by hand."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from engine.learning.reward import FINAL_CLIP, NORMALISED_CLIP, RewardCalculator, RewardInput


def trade(pnl=1.0, entry=100.0, exit_=101.0, qty=1.0, fees=0.04, side="buy", hold_s=120.0, balance=1000.0,
          sigma=None):
    return RewardInput(pnl, entry, exit_, qty, fees, side, hold_s, balance, sigma)


# Hand-computed: pnl% = 100*pnl/(qty*entry); risk = (100*pnl/balance)/max(notional/balance, 0.1)
GOLDEN = [
    # (pnl, qty, entry, hold_s, balance) -> final, with an empty history (no consistency, no streak)
    ((1.0, 1.0, 100.0, 120.0, 1000.0), 1.0 * 10 + 0.0 + 1.0 * 2),           # 1% trade at 10% of balance
    ((-2.0, 1.0, 100.0, 120.0, 1000.0), -2.0 * 10 + -2.0 * 2),
    ((1.0, 1.0, 100.0, 900.0, 1000.0), 10 - 0.001 * 10 + 2),                # 15 min: 10 min over 5
    ((1.0, 1.0, 100.0, 60.0, 100.0), 10 + 2 * (1.0 / 1.0)),                 # full-balance position
    ((0.01, 0.01, 100.0, 60.0, 1000.0), 10 + 2 * ((100 * 0.01 / 1000) / 0.1)),  # dust: risk floored
    ((500.0, 1.0, 100.0, 60.0, 1000.0), FINAL_CLIP),                        # clipped
]


@pytest.mark.parametrize("args, expected", GOLDEN)
def test_comprehensive_golden_values(args, expected):
    pnl, qty, entry, hold, balance = args
    r = RewardCalculator("comprehensive").compute(trade(pnl=pnl, qty=qty, entry=entry, hold_s=hold, balance=balance))
    assert r.final == pytest.approx(expected, rel=1e-9)
    assert set(r.components) >= {"pnl", "time", "risk", "consistency", "streak", "final"}


def test_consistency_waits_for_history_and_streaks_follow_the_seed():
    calc = RewardCalculator("comprehensive")
    second = None
    for i in range(6):
        r = calc.compute(trade(pnl=1.0 + 0.1 * i))
        if i == 1:
            second = r
    assert second.components["consistency"] == 0.0  # trade #2: no z-score of one sample
    assert r.components["consistency"] != 0.0 and abs(r.components["consistency"]) <= 3.0
    assert r.components["streak"] == pytest.approx(0.1)  # 5 prior wins, capped at 0.1
    loss = calc.compute(trade(pnl=-1.0))
    assert loss.components["streak"] == 0.0  # first loss after wins: no prior losing streak
    assert calc.compute(trade(pnl=-1.0)).components["streak"] == pytest.approx(-0.05)


def test_the_log_line_has_the_seed_format():
    r = RewardCalculator("comprehensive").compute(trade())
    assert r.log_line().startswith("REWARD CALC: PnL=1.0000, Time=0.0000, Risk=1.0000, Final=12.0000")


def test_normalised_preset_is_vol_scaled_net_log_return():
    r = RewardCalculator("normalised").compute(trade(pnl=0.96, entry=100.0, exit_=101.0, fees=0.04, hold_s=240,
                                                     sigma=10.0))
    ret_bp = math.log(1.01) * 1e4 - 4.0
    assert r.final == pytest.approx(ret_bp / (10.0 * 2.0))
    short = RewardCalculator("normalised").compute(trade(side="sell", entry=100.0, exit_=99.0, sigma=10.0))
    assert short.components["return_bp"] > 0


finite = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=300)
@given(pnl=finite, hold=st.floats(min_value=0, max_value=1e7), balance=finite,
       entry=st.floats(min_value=1e-6, max_value=1e7), qty=st.floats(min_value=1e-9, max_value=1e6),
       preset=st.sampled_from(["comprehensive", "normalised"]), sigma=st.one_of(st.none(), finite))
def test_reward_is_finite_and_bounded_for_any_input(pnl, hold, balance, entry, qty, preset, sigma):
    calc = RewardCalculator(preset)
    r = calc.compute(RewardInput(pnl, entry, entry * 1.001, qty, 0.0, "buy", hold, balance, sigma))
    bound = FINAL_CLIP if preset == "comprehensive" else NORMALISED_CLIP
    assert math.isfinite(r.final) and abs(r.final) <= bound
    assert all(math.isfinite(v) for k, v in r.components.items() if k != "raw")


@given(a=st.floats(min_value=-50, max_value=50), b=st.floats(min_value=-50, max_value=50),
       history=st.lists(st.floats(min_value=-5, max_value=5), max_size=25))
def test_comprehensive_is_monotone_in_pnl_for_the_same_history(a, b, history):
    lo, hi = sorted((a, b))
    r_lo, r_hi = RewardCalculator(), RewardCalculator()
    r_lo.restore(history)
    r_hi.restore(history)
    assert r_lo.compute(trade(pnl=lo)).final <= r_hi.compute(trade(pnl=hi)).final + 1e-9
