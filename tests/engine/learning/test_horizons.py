"""Multi-horizon outcome labels: one decision per `every_s` of event time is followed; its
return is taken when each horizon (1m, 5m, 15m) passes, at the price of that moment; when the
last one has passed the labels come out, classed up / flat / down by the move against the
round-trip cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.core.units import NS_PER_S
from engine.decision.ports import StateArrays
from engine.learning.horizons import HorizonLabeler, label_of

T0 = 1_723_075_200 * NS_PER_S
COST_BP = 4.0  # 2 x 0.02% taker fee
TENSOR = np.zeros((4, 3), dtype=np.float32)
STATE = StateArrays(np.zeros(5, np.float32), TENSOR, np.zeros(2, np.float32))
SCORES = {"buy": [0.4, -0.2, 0.0], "sell": [-0.4, 0.2, 0.0]}  # calibration inputs


def at(seconds: float) -> int:
    return T0 + int(seconds * NS_PER_S)


def bp(new: float, old: float) -> float:
    return math.log(new / old) * 1e4


def test_labels_mature_at_each_horizon_and_come_out_after_the_last():
    lab = HorizonLabeler(every_s=15.0, cost_bp=COST_BP)
    assert lab.track("S1", at(0), 2000.0, STATE, SCORES)
    assert lab.advance(at(59.9), 2100.0) == []
    assert lab.pending[0].returns_bp == {}, "no horizon has passed yet"
    assert lab.advance(at(60), 2002.0) == []                       # 1m: +10 bp, taken now
    assert lab.pending[0].returns_bp == {60: pytest.approx(bp(2002.0, 2000.0))}
    assert lab.advance(at(200), 1500.0) == []                      # between horizons: not sampled
    assert lab.advance(at(300.5), 2000.4) == []                    # 5m: +2 bp (first event past 5m)
    assert lab.advance(at(899), 2100.0) == []
    [done] = lab.advance(at(900), 1990.0)                          # 15m: -50 bp
    assert done.signal_id == "S1" and done.market_tensor is TENSOR and not lab.pending
    assert done.labels["1m"] == {"class": 2, "return": pytest.approx(bp(2002.0, 2000.0) / 100)}  # percent
    assert done.labels["5m"] == {"class": 1, "return": pytest.approx(bp(2000.4, 2000.0) / 100)}
    assert done.labels["15m"] == {"class": 0, "return": pytest.approx(bp(1990.0, 2000.0) / 100)}
    assert done.labels["60m"] is None, "the 60m head is not labelled"
    assert [(r[0], r[1], r[3], r[4]) for r in done.rows] == [
        ("S1", 60, "up", at(900)), ("S1", 300, "flat", at(900)), ("S1", 900, "down", at(900))]
    assert lab.advance(at(2000), 3000.0) == []  # labelled once


def test_class_is_the_move_net_of_costs():
    assert label_of(4.01, COST_BP) == 2 and label_of(-4.01, COST_BP) == 0
    for flat in (4.0, -4.0, 0.0, 3.99, -3.99):  # a move that does not pay the round trip
        assert label_of(flat, COST_BP) == 1
    lab = HorizonLabeler(every_s=1.0, cost_bp=COST_BP)
    lab.track("S", at(0), 100.0, STATE, SCORES)
    [done] = lab.advance(at(900), 100.0 * math.exp(3e-4))  # +3 bp at every horizon: flat, not up
    assert {h: v["class"] for h, v in done.labels.items() if v} == {"1m": 1, "5m": 1, "15m": 1}


def test_one_decision_per_interval_and_only_with_a_price():
    lab = HorizonLabeler(every_s=15.0, cost_bp=COST_BP)
    assert not lab.track("S0", at(0), None, STATE, SCORES) and not lab.track("S0", at(0), 0.0, STATE, SCORES)
    assert lab.track("S1", at(0), 2000.0, STATE, SCORES)
    assert not lab.track("S2", at(14.9), 2000.0, STATE, SCORES)
    assert lab.track("S3", at(15), 2000.0, STATE, SCORES)
    assert [p.signal_id for p in lab.pending] == ["S1", "S3"]
    assert lab.advance(at(2000), None) == [] and lab.pending[0].returns_bp == {}  # no price: nothing taken


def test_each_decision_matures_on_its_own_clock_in_order():
    lab = HorizonLabeler(every_s=15.0, cost_bp=COST_BP)
    lab.track("S1", at(0), 2000.0, STATE, SCORES)
    lab.track("S2", at(30), 1000.0, STATE, SCORES)
    [first] = lab.advance(at(900), 2010.0)
    assert first.signal_id == "S1" and [p.signal_id for p in lab.pending] == ["S2"]
    assert set(lab.pending[0].returns_bp) == {60, 300}  # S2 is 870 s old
    [second] = lab.advance(at(930), 990.0)
    assert second.signal_id == "S2" and second.labels["15m"]["class"] == 0
    # S2's 1m and 5m returns were taken against its own entry at the price S1 matured at
    assert second.labels["1m"]["return"] == pytest.approx(bp(2010.0, 1000.0) / 100)
