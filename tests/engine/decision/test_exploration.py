"""Exploration on paper: ε-greedy per hour of event time, decaying with the labels seen, with
the propensity of the action taken recorded; deterministic for a seed; off means greedy."""

from __future__ import annotations

import pytest

from engine.core.enums import Action, Policy
from engine.decision.exploration import MAX_EPSILON, Explorer

FLAT = (Action.BUY, Action.SELL, Action.HOLD)


def explorer(seed: int = 7) -> Explorer:
    return Explorer(start_per_hour=60.0, floor_per_hour=4.0, half_life_labels=100.0, seed=seed)


def test_the_rate_is_per_hour_of_event_time_and_decays_to_its_floor():
    e = explorer()
    assert e.epsilon(0, 1.0) == pytest.approx(60 / 3600)       # a 1 s decision
    assert e.epsilon(0, 10.0) == pytest.approx(60 / 360)       # a 10 s step: the same rate per hour
    assert e.rate_per_hour(100) == pytest.approx(4 + 56 / 2)   # one half-life of labels
    assert e.rate_per_hour(10_000) == pytest.approx(4.0, abs=1e-6)


def test_coarse_bars_still_leave_most_decisions_greedy():
    e = explorer()
    assert e.epsilon(0, 60.0) == MAX_EPSILON                   # the rate asks for 1 a minute
    assert e.epsilon(0, 3600.0) == MAX_EPSILON                 # hourly bars: 60 an hour
    assert e.epsilon(10_000, 60.0) == pytest.approx(4 / 60)    # under the cap, the rate again


def test_draws_explore_at_the_stated_rate_with_correct_propensities():
    e, eps, n = explorer(), 0.2, 20_000
    picks = [e.choose(Action.HOLD, FLAT, eps) for _ in range(n)]
    explored = [p for p in picks if p[1] is Policy.EXPLORE]
    assert len(explored) / n == pytest.approx(eps, abs=0.01)
    counts = {a: sum(1 for p in explored if p[0] is a) for a in FLAT}
    assert all(c / len(explored) == pytest.approx(1 / 3, abs=0.03) for c in counts.values())
    for action, policy, propensity in picks[:200]:
        expected = (1 - eps) + eps / 3 if action is Action.HOLD else eps / 3
        assert propensity == pytest.approx(expected)


def test_same_seed_same_draws_and_disabled_is_greedy():
    a = [explorer(3).choose(Action.BUY, FLAT, 0.5) for _ in range(50)]
    b = [explorer(3).choose(Action.BUY, FLAT, 0.5) for _ in range(50)]
    assert a == b
    assert explorer().choose(Action.BUY, FLAT, 0.9, enabled=False) == (Action.BUY, Policy.GREEDY, 1.0)


def test_a_single_available_action_is_a_greedy_decision_and_the_stream_moves_on():
    """A young position leaves HOLD alone: no draw can change it, so it is recorded as greedy
    with propensity 1, and the random stream advances as on any decision (determinism)."""
    a, b = explorer(5), explorer(5)
    assert a.choose(Action.HOLD, (Action.HOLD,), 0.9) == (Action.HOLD, Policy.GREEDY, 1.0)
    b.choose(Action.BUY, FLAT, 0.9)
    assert a.choose(Action.BUY, FLAT, 0.5) == b.choose(Action.BUY, FLAT, 0.5)
