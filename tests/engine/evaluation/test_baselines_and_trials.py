"""Baseline fills by hand on five bars, the random-entry band on a random walk, and the trials log."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.core.units import NS_PER_S
from engine.evaluation.baselines import (fill_net_bp, momentum_sides, random_entry_band,
                                         random_entry_means, rule_baselines)
from engine.evaluation.records import Bars, Costs
from engine.evaluation.trials import append_trial, read_trials, spec_hash
from tests.engine.evaluation.synthetic import random_walk_bars

S = NS_PER_S
FIVE = Bars(np.arange(5) * 60 * S, [100.0, 101.0, 102.0, 100.0, 99.0], [0.0] * 5, [0.0] * 5, [0.0] * 5)


def test_costs_are_two_taker_fills_plus_the_spread():
    assert Costs(taker_fee=0.0004, spread_bp=1.0).round_trip_bp == pytest.approx(9.0)


def test_fills_enter_at_the_next_open_and_exit_at_the_open_at_or_after_the_exit_time():
    net = fill_net_bp(FIVE, [30 * S, 60 * S, 200 * S], [60 * S, 0, 60 * S], [1, -1, 1], Costs(spread_bp=5.0))
    assert net[0] == pytest.approx((102 / 101 - 1) * 1e4 - 5)  # in at 101 (open 1), out at 102 (open 2)
    assert net[1] == pytest.approx(-(100 / 102 - 1) * 1e4 - 5)  # at an open: next one; held >= 1 bar
    assert np.isnan(net[2])  # its exit would be past the last bar


def test_momentum_reads_only_the_past_and_mean_reversion_is_its_opposite():
    sides = momentum_sides(FIVE, [130 * S, 250 * S, 30 * S], lookback_ns=120 * S)
    assert sides[0] == 1.0 and sides[1] == -1.0 and np.isnan(sides[2])  # 102 vs 100; 99 vs 102
    rules = rule_baselines(FIVE, [130 * S], [190 * S], Costs(), lookback_ns=120 * S)
    up = (99 / 100 - 1) * 1e4  # in at open 3 (100), out at open 4 (99)
    assert rules["always_long"][0] == pytest.approx(up) and rules["always_short"][0] == pytest.approx(-up)
    assert rules["momentum"][0] == pytest.approx(up) and rules["mean_reversion"][0] == pytest.approx(-up)


def test_random_entry_band_on_a_random_walk_without_costs_centres_on_zero():
    bars = random_walk_bars(days=5, sigma_bp=10.0, seed=3)
    holds = np.array([1, 2, 3, 5]) * 60 * S
    band = random_entry_band(bars, holds, 200, Costs(), draws=1000, seed=0)
    print("random band", band)
    assert band.low < 0 < band.high and abs(band.median) < 0.3
    # per-draw sd ≈ 10·√(mean hold 2.75 bars)/√200 ≈ 1.17 bp: the band is ≈ ±2.3 bp
    assert 1.5 < band.high < 3.2 and -3.2 < band.low < -1.5
    costly = random_entry_means(bars, holds, 200, Costs(spread_bp=5.0), draws=1000, seed=0)
    free = random_entry_means(bars, holds, 200, Costs(), draws=1000, seed=0)
    assert costly == pytest.approx(free - 5.0)  # the same draws, exactly the cost lower


def test_trials_log_appends_counts_distinct_configurations_and_their_variance(tmp_path):
    log = tmp_path / "eval" / "trials.jsonl"
    assert read_trials(log).n_trials == 0 and read_trials(log).sharpe_variance is None
    assert spec_hash({"a": 1, "b": [2, 3]}) == spec_hash({"b": [2, 3], "a": 1})
    append_trial(log, {"lr": 1e-3}, 0.10, time_ns=1)
    append_trial(log, {"lr": 1e-4}, 0.20, time_ns=2)
    append_trial(log, {"lr": 1e-3}, 0.30, time_ns=3)  # re-run: its latest Sharpe stands
    append_trial(log, {"lr": 1e-2}, float("nan"), time_ns=4)  # counted, no Sharpe
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 4 and rows[3]["sharpe"] is None and rows[0]["spec_hash"] == spec_hash({"lr": 1e-3})
    got = read_trials(log)
    assert got.n_trials == 3 and sorted(got.sharpes) == [0.2, 0.3]
    assert got.sharpe_variance == pytest.approx(np.var([0.2, 0.3], ddof=1))  # 0.005
    log.write_text(log.read_text() + "{broken\n")
    with pytest.raises(ValueError, match=":5:"):
        read_trials(log)
