"""Forecast scores against hand-computed values, and the learning-curve slope on folds whose
skill is built to rise (or not) with training labels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.evaluation.forecast import (auc, average_ranks, brier, forecast_report, log_loss,
                                        prequential_base_rate, rank_ic, reliability_curve, spearman)
from engine.evaluation.learning_curve import FoldForecast, skill_slope


def test_brier_of_the_base_rate_is_p_times_one_minus_p():
    y = np.array([1, 0, 0, 1, 1, 1, 0, 1, 1, 0], dtype=float)  # p = 0.6
    assert brier(np.full(10, 0.6), y) == pytest.approx(0.6 * 0.4)
    assert brier(np.full(4, 0.5), [0, 1, 1, 0]) == 0.25
    assert log_loss(np.full(4, 0.5), [0, 1, 1, 0]) == pytest.approx(math.log(2))
    assert log_loss([1.0, 0.0], [1, 0]) == pytest.approx(0.0, abs=1e-11)
    assert math.isfinite(log_loss([0.0], [1]))  # clipped, not infinite


def test_prequential_base_rate_knows_only_the_past():
    assert prequential_base_rate([1, 0, 1, 1]).tolist() == pytest.approx([0.5, 2 / 3, 0.5, 0.6])
    assert len(prequential_base_rate([])) == 0


def test_auc_perfect_reversed_ties_and_a_hand_case():
    y = [0, 0, 1, 1]
    assert auc([0.1, 0.2, 0.8, 0.9], y) == 1.0
    assert auc([0.9, 0.8, 0.2, 0.1], y) == 0.0
    assert auc([0.5, 0.5, 0.5, 0.5], y) == 0.5
    assert auc([0.1, 0.4, 0.35, 0.8], y) == 0.75  # 0.35 loses to 0.4, the rest win
    assert auc([0.5, 0.5, 0.9], [0, 1, 1]) == 0.75  # the tie counts one half
    assert auc([0.3, 0.6], [1, 1]) is None


def test_average_ranks_and_spearman_by_hand():
    assert average_ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))


def test_reliability_curve_bins():
    bins = reliability_curve([0.05, 0.15, 0.12, 1.0, 0.95], [0, 1, 0, 1, 1])
    assert len(bins) == 10 and [b.count for b in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bins[1].mean_predicted == pytest.approx(0.135) and bins[1].observed == 0.5
    assert bins[9].mean_predicted == pytest.approx(0.975) and bins[9].observed == 1.0
    assert bins[4].mean_predicted is None and bins[4].observed is None


def _informed(n: int, weight: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes y ~ Bernoulli(q), q ~ U(0.1, 0.9); the model says w·q + (1 − w)·½."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.1, 0.9, n)
    y = (rng.random(n) < q).astype(float)
    return weight * q + (1 - weight) * 0.5, y, np.repeat(np.arange(10), n // 10)


def test_forecast_report_of_an_informed_model_has_skill_and_a_positive_rank_ic():
    p, y, days = _informed(2000, 1.0, seed=6)
    report = forecast_report(p, y, days, B=300)
    assert report.brier_skill > 0.1 and report.log_loss_skill > 0.1
    assert 0.65 < report.auc < 0.8
    assert report.rank_ic.low > 0.2
    assert sum(b.count for b in report.reliability) == 2000
    base = forecast_report(prequential_base_rate(y), y, days, B=100)
    assert base.brier_skill == 0.0 and base.log_loss_skill == 0.0
    noise = np.random.default_rng(7).random(2000)
    ic = rank_ic(noise, y, days, B=300)  # pure noise: ρ within 3 SE (1/√n ≈ 0.022) of 0
    assert abs(ic.estimate) < 0.067 and ic.low < ic.estimate < ic.high
    assert ic.high - ic.low > 0.04  # about 2·1.96/√n wide, not collapsed


def test_skill_slope_is_positive_when_skill_rises_with_labels_and_not_when_flat():
    labels, weights = (100, 1000, 10_000, 100_000), (0.1, 0.4, 0.7, 1.0)
    rising = [FoldForecast(L, *_informed(2000, w, seed=10 + i)) for i, (L, w) in enumerate(zip(labels, weights))]
    slope = skill_slope(rising, B=500)
    print("rising slope", slope)
    assert slope.low > 0
    flat = [FoldForecast(L, *_informed(2000, 0.7, seed=20 + i)) for i, L in enumerate(labels)]
    assert skill_slope(flat, B=500).low < 0 < skill_slope(flat, B=500).high
    assert skill_slope(rising[:2]) is None  # a slope needs three folds
    same = [FoldForecast(500, f.p, f.y, f.days) for f in rising]
    assert skill_slope(same) is None  # and more than one label count
