"""Day-block bootstrap: coverage on i.i.d. data, the day as the unit, the honesty floor; and the
per-trade statistics on hand-checked sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.core.bootstrap import (bootstrap_day_paired_difference, bootstrap_mean,
                                         bootstrap_paired_difference, bootstrap_statistic)
from engine.evaluation.records import NS_PER_DAY, Trade, trade_arrays
from engine.evaluation.trade_stats import hit_rate, profit_factor, trade_stats


def test_the_interval_covers_the_true_mean_in_about_95_percent_of_datasets():
    days = np.repeat(np.arange(30), 8)  # 30 days x 8 trades, i.i.d. N(1.5, 4²)
    covered = 0
    for seed in range(100):
        v = np.random.default_rng(1000 + seed).normal(1.5, 4.0, len(days))
        ci = bootstrap_mean(v, days, B=500, seed=seed)
        covered += ci.low <= 1.5 <= ci.high
    print("coverage", covered / 100)
    assert 0.88 <= covered / 100 <= 0.99


def test_the_day_is_the_unit_a_shared_daily_shock_widens_the_interval():
    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(20), 50)
    v = rng.normal(0, 1, len(days)) + np.repeat(rng.normal(0, 3, 20), 50)  # a shock per day
    by_day = bootstrap_mean(v, days, seed=0)
    as_if_iid = bootstrap_mean(v, np.arange(len(v)), seed=0)
    assert by_day.days == 20 and by_day.n == 1000
    assert (by_day.high - by_day.low) > 3 * (as_if_iid.high - as_if_iid.low)


def test_constant_values_give_a_point_interval_and_too_few_days_give_no_claim():
    ci = bootstrap_mean([2.0] * 12, np.repeat(np.arange(6), 2))
    assert (ci.estimate, ci.low, ci.high) == (2.0, 2.0, 2.0)
    few = bootstrap_mean([1.0, 2.0, 3.0, 4.0], [0, 0, 1, 2])
    assert few.estimate == 2.5 and few.low == -math.inf and few.high == math.inf and not few.excludes_zero
    assert bootstrap_mean([], []) is None
    assert bootstrap_mean([np.nan, 1.0], [0, 1]).n == 1  # unfillable baselines are dropped


def test_the_same_seed_gives_the_same_interval():
    v = np.random.default_rng(4).normal(size=100)
    d = np.repeat(np.arange(10), 10)
    assert bootstrap_mean(v, d, seed=7) == bootstrap_mean(v, d, seed=7)


def test_paired_difference_is_the_mean_of_the_differences_and_drops_broken_pairs():
    days = np.repeat(np.arange(10), 3)
    base = np.random.default_rng(5).normal(0, 10, 30)
    model = base + 2.0  # the same market move plus exactly 2 bp
    ci = bootstrap_paired_difference(model, base, days)
    assert ci.estimate == pytest.approx(2.0) and ci.low == pytest.approx(2.0) and ci.high == pytest.approx(2.0)
    base[0] = np.nan
    assert bootstrap_paired_difference(model, base, days).n == 29


def test_day_paired_difference_of_two_variants_on_the_same_days():
    days_a = np.repeat(np.arange(8), 4)
    days_b = np.repeat(np.arange(8), 2)
    a = 3.0 + np.tile([1.0, -1.0], 16)
    b = 1.0 + np.tile([0.5, -0.5], 8)
    ci = bootstrap_day_paired_difference(a, days_a, b, days_b)
    assert ci.estimate == pytest.approx(2.0) and ci.low == pytest.approx(2.0) and ci.high == pytest.approx(2.0)
    assert ci.n == 48 and ci.days == 8
    assert bootstrap_day_paired_difference([], [], b, days_b) is None


def test_generic_statistic_resamples_whole_days():
    x = np.arange(40.0)
    days = np.repeat(np.arange(8), 5)
    ci = bootstrap_statistic(lambda v: float(np.median(v)), days, x, B=300)
    assert ci.estimate == 19.5 and ci.low < 19.5 < ci.high


def _trade(day: int, net: float, policy: str = "greedy") -> Trade:
    t = day * NS_PER_DAY + 3600 * 10**9
    return Trade(t, t + 60 * 10**9, 1, 100.0, 100.0, net, policy)


def test_profit_factor_and_hit_rate_on_a_known_set():
    net = [10.0, -5.0, 20.0, -15.0, 0.0]
    assert profit_factor(net) == pytest.approx(30.0 / 20.0)
    assert hit_rate(net) == pytest.approx(2 / 5)  # a flat trade is not a hit
    assert profit_factor([1.0, 2.0]) is None and profit_factor([]) is None
    assert profit_factor([-1.0, -3.0]) == 0.0


def test_greedy_and_explored_trades_are_reported_apart():
    trades = [_trade(d, 4.0) for d in range(6)] + [_trade(d, -2.0, "explore") for d in range(3)]
    stats = trade_stats(trade_arrays(trades), B=200)
    assert stats["all"].trades == 9 and stats["all"].mean_bp == pytest.approx(18 / 9)
    assert stats["greedy"].trades == 6 and stats["greedy"].mean_bp == 4.0 and stats["greedy"].profit_factor is None
    assert stats["greedy"].ci.low == 4.0 and stats["greedy"].hit_rate == 1.0
    assert stats["explore"].trades == 3 and stats["explore"].hit_rate == 0.0
    assert stats["explore"].ci.low == -math.inf  # three days: below the honesty floor
    assert trade_stats(trade_arrays([]))["greedy"].mean_bp is None
