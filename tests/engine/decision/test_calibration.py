"""Calibrated confidence: the threshold compares the probability that a side's trade nets
> 0, fitted causally on the models' own out-of-sample outcomes; before enough outcomes there
is no probability at all (the decision holds and says it is calibrating)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.core.enums import Action, Side
from engine.decision.calibration import Calibrator, fit_logistic, fit_platt, inputs_of, logit
from engine.core.enums import ModelName
from engine.decision.policy import available_actions, greedy_action


def test_no_probability_until_enough_outcomes():
    cal = Calibrator(window=100, refit_every=10, min_pairs=20)
    for i in range(19):
        cal.add((logit(0.6),), i % 2 == 0)
    assert not cal.ready and cal.p_win((logit(0.9),)) is None
    cal.add((logit(0.6),), True)
    assert cal.ready and cal.p_win((logit(0.9),)) is not None


def test_scores_on_a_wrong_scale_are_mapped_to_the_frequencies_they_win_at():
    """A saturated score (like softmax of Q in reward units) that wins 30 % of the time at
    0.9 and 10 % at 0.6 is calibrated to those rates, whatever its scale."""
    rng = np.random.default_rng(0)
    cal = Calibrator(window=4000, refit_every=100, min_pairs=200)
    for _ in range(2000):
        score = 0.9 if rng.random() < 0.5 else 0.6
        cal.add((logit(score),), rng.random() < (0.30 if score == 0.9 else 0.10))
    assert cal.p_win((logit(0.9),)) == pytest.approx(0.30, abs=0.04)
    assert cal.p_win((logit(0.6),)) == pytest.approx(0.10, abs=0.03)
    assert cal.win_rate == pytest.approx(0.20, abs=0.03)


def test_uninformative_scores_calibrate_to_the_base_rate():
    rng = np.random.default_rng(1)
    scores = rng.uniform(0.2, 0.8, 3000)
    a, b = fit_platt(scores, rng.random(3000) < 0.3)
    assert abs(a) < 0.2  # the score says nothing, so its slope is ~0
    assert 1 / (1 + np.exp(-b)) == pytest.approx(0.3, abs=0.03)


def test_the_fit_weights_each_model_by_what_its_scores_are_worth():
    """Stacking: one model's score predicts the outcome, another's is noise. The fit leans
    on the first and ignores the second, so a confident noise model cannot move P(win),
    and the informative model's strong score reaches the threshold that the two models'
    mean would not."""
    rng = np.random.default_rng(2)
    n = 3000
    skilled = rng.standard_normal(n)
    noise = rng.standard_normal(n)
    won = rng.random(n) < 1 / (1 + np.exp(-(1.5 * skilled - 1.0)))
    w = fit_logistic(np.stack([noise, skilled], axis=1), won)
    assert abs(w[0]) < 0.15 and w[1] == pytest.approx(1.5, abs=0.2) and w[2] == pytest.approx(-1.0, abs=0.2)
    cal = Calibrator(window=n, refit_every=n, min_pairs=n)
    for a, b, y in zip(noise, skilled, won):
        cal.add((a, b), y)
    assert cal.p_win((0.0, 2.0)) > 0.8 and cal.p_win((3.0, 0.0)) < 0.35


def test_a_model_that_does_not_vote_enters_as_zero():
    per_model = {ModelName.CNN: {Side.BUY: 0.7, Side.SELL: 0.2}, ModelName.DQN: {Side.BUY: 0.5, Side.SELL: 0.5},
                 ModelName.COB_RL: None}
    assert inputs_of(per_model, Side.BUY) == pytest.approx((logit(0.7), 0.0, 0.0))
    assert inputs_of(per_model, Side.SELL) == pytest.approx((logit(0.2), 0.0, 0.0))


def test_greedy_action_flat_holding_and_calibrating():
    t = 0.5
    assert greedy_action({Side.BUY: None, Side.SELL: None}, None, t) is Action.HOLD
    assert greedy_action({Side.BUY: 0.6, Side.SELL: 0.1}, None, t) is Action.BUY
    assert greedy_action({Side.BUY: 0.1, Side.SELL: 0.55}, None, t) is Action.SELL
    assert greedy_action({Side.BUY: 0.45, Side.SELL: 0.2}, None, t) is Action.HOLD  # under the threshold: stay flat
    assert greedy_action({Side.BUY: 0.3, Side.SELL: 0.2}, Side.BUY, t) is Action.HOLD  # still the likelier winner
    assert greedy_action({Side.BUY: 0.2, Side.SELL: 0.3}, Side.BUY, t) is Action.EXIT  # the other side now likelier
    assert greedy_action({Side.BUY: None, Side.SELL: None}, Side.SELL, t) is Action.HOLD


def test_a_position_younger_than_the_trade_horizon_is_held():
    """The entry bet on the move over the horizon: until then neither the models nor an
    exploration draw close it, however strongly the other side is called; afterwards the
    usual exit rule applies again."""
    reversal = {Side.BUY: 0.05, Side.SELL: 0.9}
    assert greedy_action(reversal, Side.BUY, 0.5, young=True) is Action.HOLD
    assert greedy_action(reversal, Side.BUY, 0.5, young=False) is Action.EXIT
    assert greedy_action(reversal, None, 0.5, young=True) is Action.SELL  # only a held position waits
    assert available_actions(Side.BUY, young=True) == (Action.HOLD,)
    assert available_actions(Side.BUY) == (Action.HOLD, Action.EXIT)
    assert available_actions(None, young=True) == (Action.BUY, Action.SELL, Action.HOLD)


def test_threshold_zero_trades_on_the_raw_scores_while_calibrating():
    calibrating = {Side.BUY: None, Side.SELL: None}
    raw = {Side.BUY: 0.2, Side.SELL: 0.3}
    assert greedy_action(calibrating, None, 0.0, raw) is Action.SELL
    assert greedy_action(calibrating, None, 0.5, raw) is Action.HOLD



def _feed(cal, rng, n, direction=0.0, vol=0.0):
    """n labels of a market whose move is N(direction * x, exp(vol * v)) against a cost of 1;
    the models' inputs are x for BUY, -x for SELL (a direction call) plus v for both (a
    volatility call)."""
    for _ in range(n):
        x, v = rng.standard_normal(2)
        move = direction * x + np.exp(vol * v) * rng.standard_normal()
        cal.add_label((x + v,), (-x + v,), move > 1.0, move < -1.0)


@pytest.mark.parametrize("vol", [0.0, 0.8], ids=["noise", "volatility only"])
def test_no_skill_is_shown_without_a_direction_call(vol):
    """Noise, or a call on the volatility alone (P(win) of both sides rises and falls
    together, which beats the base rate but picks no side): scored on each label before it
    is fitted on, the fit seldom calls the direction better than its own level (a few
    checks in a hundred at most, against the test's nominal 0.6 %: neighbouring checks share data)."""
    shown = blocks = 0
    for seed in range(6):  # 6 sessions of 1,000 labels, checked every 25
        cal = Calibrator(window=2000, refit_every=50, min_pairs=200)
        rng = np.random.default_rng(seed)
        for _ in range(40):
            _feed(cal, rng, 25, vol=vol)
            shown += cal.skill.shown
        blocks += cal.skill.blocks >= 4
    assert blocks == 6 and shown <= 8, shown  # of 240 checks: a false "skill" is rare and brief


def test_skill_is_shown_on_a_direction_call_and_gates_the_greedy_action():
    rng = np.random.default_rng(7)
    cal = Calibrator(window=2000, refit_every=50, min_pairs=200)
    _feed(cal, rng, 100, vol=0.8)
    assert cal.ready and not cal.skill.shown
    assert cal.skill.as_dict()["shown"] is False
    _feed(cal, rng, 1000, direction=0.5, vol=0.8)
    assert cal.skill.shown and cal.skill.gain > 0.01 and cal.skill.lower > 0, cal.skill
    p = {Side.BUY: 0.6, Side.SELL: 0.1}
    assert greedy_action(p, None, 0.5, skilled=True) is Action.BUY
    assert greedy_action(p, None, 0.5, skilled=False) is Action.HOLD
    assert greedy_action({Side.BUY: 0.1, Side.SELL: 0.6}, Side.BUY, 0.5, skilled=False) is Action.HOLD
    assert greedy_action(p, None, 0.0, {Side.BUY: 0.2, Side.SELL: 0.3}, skilled=False) is Action.SELL  # drills
