"""The evaluation's training controls: off drops everything, train_until freezes at T (the
purge), and the shuffled-label control trains every state on another state's outcome from
the same UTC day, never across days and never on a lone item's own outcome."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest

from engine.core.enums import ModelName, Side
from engine.decision.ports import LabelledState, Learner, StateArrays, TradeExperience
from engine.learning.controls import NS_PER_DAY, ControlledLearner, apply_controls, control_calibration, until_ns

DAY0 = 20_000 * NS_PER_DAY  # a UTC midnight


class Recorder:
    """A Learner that records what reaches it and resolves at once."""

    device = "cpu"
    dqn_memory_capacity = 10

    def __init__(self) -> None:
        self.trades: list[TradeExperience] = []
        self.batches: list[list[LabelledState]] = []

    def start(self) -> None: ...

    def close(self) -> None: ...

    def predict(self, vector, market_tensor, cob):
        raise AssertionError("not used")

    def metrics(self) -> dict:
        return {}

    def _done(self, value) -> Future:
        f: Future = Future()
        f.set_result(value)
        return f

    def submit_trade_outcome(self, experience):
        self.trades.append(experience)
        return self._done([{"model": "dqn"}])

    def submit_labels(self, batch):
        self.batches.append(list(batch))
        return self._done([{"model": "cnn"}])

    def submit_dqn_experience(self, experiences):
        return self._done(len(experiences))


def exp(i: int) -> TradeExperience:
    state = StateArrays(np.full(2, float(i), np.float32), np.zeros((1, 1), np.float32), np.zeros(1, np.float32))
    return TradeExperience(state=state, side=Side.BUY, reward=float(i), weights={ModelName.DQN: 1.0}, pnl=float(i),
                           hold_s=float(i))


def label(i: int) -> LabelledState:
    return LabelledState(np.full((1, 1), float(i), np.float32), {"1m": {"class": i % 3, "return": float(i)}})


def wrapped(**kw) -> tuple[ControlledLearner, Recorder, list[int]]:
    inner, clock = Recorder(), [DAY0]
    learner = ControlledLearner(inner, **{"training": True, "shuffled": False, "train_until_ns": None, "seed": 3, **kw})
    learner.bind_clock(lambda: clock[0])
    return learner, inner, clock


def test_the_wrapper_is_a_learner_and_no_controls_means_no_wrapper():
    inner = Recorder()
    assert apply_controls(inner, training="on", control="none", train_until="", seed=1) is inner
    assert isinstance(apply_controls(inner, training="off", control="none", train_until="", seed=1), Learner)
    assert until_ns("2025-06-01T00:00:00Z") == until_ns("2025-06-01T00:00:00") == 1748736000 * 10**9


def test_training_off_drops_every_input_and_says_so():
    learner, inner, _ = wrapped(training=False)
    assert learner.submit_trade_outcome(exp(1)).result() == []
    assert learner.submit_labels([label(1), label(2)]).result() == []
    assert learner.submit_dqn_experience([exp(1)]).result() == 0
    assert inner.trades == [] and inner.batches == []
    assert learner.dropped == {"trades": 1, "labels": 2} and learner.trained == {"trades": 0, "labels": 0}


def test_train_until_freezes_the_model_at_t():
    learner, inner, clock = wrapped(train_until_ns=DAY0 + 3600 * 10**9)
    assert learner.submit_trade_outcome(exp(1)).result() == [{"model": "dqn"}]
    clock[0] = DAY0 + 3600 * 10**9  # an outcome known at T is purged
    assert learner.submit_trade_outcome(exp(2)).result() == []
    assert learner.submit_labels([label(1)]).result() == []
    assert [e.reward for e in inner.trades] == [1.0] and learner.dropped == {"trades": 1, "labels": 1}


def test_shuffled_labels_are_permuted_within_the_day_and_released_when_it_ends():
    learner, inner, clock = wrapped(shuffled=True)
    for i in range(20):
        clock[0] = DAY0 + i * 60 * 10**9
        assert learner.submit_trade_outcome(exp(i)).result() == []  # held: the day is not over
        learner.submit_labels([label(i), label(100 + i)])
    assert inner.trades == [] and inner.batches == []
    clock[0] = DAY0 + NS_PER_DAY  # the next day's first input releases the previous day
    learner.submit_trade_outcome(exp(50)).result()
    assert len(inner.trades) == 20 and [len(b) for b in inner.batches] == [2] * 20  # arrival batch sizes
    states = [int(e.state.vector[0]) for e in inner.trades]
    rewards = [int(e.reward) for e in inner.trades]
    assert states == list(range(20))  # states in arrival order ...
    assert sorted(rewards) == list(range(20)) and rewards != states  # ... with the day's outcomes permuted
    assert all(e.pnl == e.reward == e.hold_s for e in inner.trades)  # an outcome moves whole
    labels = [s.labels["1m"]["return"] for b in inner.batches for s in b]
    tensors = [float(s.market_tensor[0, 0]) for b in inner.batches for s in b]
    assert sorted(labels) == sorted(tensors) and labels != tensors
    assert learner.trained == {"trades": 20, "labels": 40}


def test_a_lone_item_of_a_day_is_dropped_not_trained_on_its_true_outcome():
    learner, inner, clock = wrapped(shuffled=True, train_until_ns=DAY0 + NS_PER_DAY // 2)
    learner.submit_trade_outcome(exp(7))
    learner.submit_labels([label(1), label(2)])
    clock[0] = DAY0 + NS_PER_DAY // 2  # frozen: the held day is released, the new input dropped
    learner.submit_labels([label(3)])
    assert inner.trades == [] and learner.dropped == {"trades": 1, "labels": 1}
    assert len(inner.batches) == 1 and learner.trained["labels"] == 2


def test_a_failing_inner_learner_reaches_the_caller():
    class Broken(Recorder):
        def submit_labels(self, batch):
            f: Future = Future()
            f.set_exception(RuntimeError("cnn broke"))
            return f

    learner = ControlledLearner(Broken(), training=True, shuffled=False, train_until_ns=None, seed=0)
    learner.bind_clock(lambda: DAY0)
    with pytest.raises(RuntimeError, match="cnn broke"):
        learner.submit_labels([label(1)]).result()


class Pairs:
    """A calibrator that records the (buy inputs, sell inputs, up won, down won) it is fitted on."""

    window = 100

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def add_label(self, buy, sell, up_won, down_won) -> None:
        self.seen.append((buy, sell, up_won, down_won))


def calibration(**kw):
    inner, clock = Pairs(), [DAY0]
    keys = {"training": "on", "control": "none", "train_until": "", **kw}
    return control_calibration(inner, seed=3, now_ns=lambda: clock[0], **keys), inner, clock


def test_the_calibration_is_learning_too_off_fits_nothing_and_frozen_stops_at_t():
    same, inner, _ = calibration()
    assert same is inner  # no control: the calibrator itself
    off, inner, _ = calibration(training="off")
    off.add_label([1.0], [0.0], True, False)
    assert inner.seen == [] and off.dropped == 1
    frozen, inner, clock = calibration(train_until="2024-10-04T01:00:00Z")  # DAY0 is 2024-10-04
    frozen.add_label([1.0], [0.0], True, False)
    clock[0] = DAY0 + 3600 * 10**9  # at T: the outcome is the test span's
    frozen.add_label([2.0], [0.0], False, True)
    assert inner.seen == [([1.0], [0.0], True, False)] and frozen.window == 100


def test_the_control_fits_each_days_outcomes_permuted_among_that_days_inputs():
    shuffled, inner, clock = calibration(control="shuffled")
    outcomes = [(i % 3 == 0, i % 3 == 1) for i in range(40)]
    for i, (up, down) in enumerate(outcomes):
        shuffled.add_label([float(i)], [-float(i)], up, down)
    assert inner.seen == []  # held until the day is over
    clock[0] = DAY0 + NS_PER_DAY
    shuffled.add_label([99.0], [-99.0], True, False)  # the next day's first: releases day 0, is held
    assert [s[0] for s in inner.seen] == [[float(i)] for i in range(40)]  # every input, in order
    assert sorted(s[2:] for s in inner.seen) == sorted(outcomes)  # the day's outcomes, permuted
    assert [s[2:] for s in inner.seen] != outcomes
    clock[0] = DAY0 + 2 * NS_PER_DAY
    shuffled.add_label([5.0], [-5.0], False, False)
    assert len(inner.seen) == 40 and shuffled.dropped == 1  # a lone outcome is never fitted as it is
