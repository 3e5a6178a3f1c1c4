"""Φ and Φ⁻¹ against tabled values; Sharpe, moments, PSR and DSR against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.evaluation.normal import norm_cdf, norm_ppf
from engine.evaluation.sharpe import (EULER_GAMMA, deflated_sharpe, expected_max_sharpe,
                                      probabilistic_sharpe, psr_from_moments, sharpe, skew_kurtosis)


def test_normal_cdf_and_ppf_match_tables_and_invert_each_other():
    assert norm_cdf(0.0) == 0.5
    assert norm_cdf(1.959963984540054) == pytest.approx(0.975, abs=1e-15)
    assert norm_ppf(0.975) == pytest.approx(1.959963984540054, abs=1e-12)
    assert norm_ppf(0.99) == pytest.approx(2.3263478740408408, abs=1e-12)
    assert norm_ppf(0.001) == pytest.approx(-3.090232306167813, abs=1e-12)
    for p in (1e-12, 0.01, 0.02425, 0.3, 0.5, 0.8, 0.99999):
        assert norm_cdf(norm_ppf(p)) == pytest.approx(p, rel=1e-12)
    assert norm_ppf(0.0) == -math.inf and norm_ppf(1.0) == math.inf
    with pytest.raises(ValueError):
        norm_ppf(1.5)


def test_sharpe_and_moments_of_a_known_set():
    r = [1.0, 2.0, 3.0, 4.0]  # mean 2.5, sample sd √(5/3)
    assert sharpe(r) == pytest.approx(2.5 / math.sqrt(5 / 3))
    skew, kurt = skew_kurtosis(r)  # symmetric: γ3 = 0; m2 = 1.25, m4 = 2.5625 -> γ4 = 1.64
    assert skew == pytest.approx(0.0, abs=1e-15)
    assert kurt == pytest.approx(2.5625 / 1.25**2)
    assert sharpe([1.0, 1.0, 1.0]) is None and sharpe([1.0]) is None


def test_psr_is_one_half_when_the_sharpe_equals_the_benchmark():
    assert psr_from_moments(0.3, 0.3, 100, skew=-0.5, kurt=6.0) == 0.5
    r = np.random.default_rng(1).normal(0.2, 1.0, 400)
    assert probabilistic_sharpe(r, sr_star=sharpe(r)) == pytest.approx(0.5)


def test_psr_for_normal_returns_by_hand():
    # SR = 0.1, SR* = 0, n = 101, γ3 = 0, γ4 = 3: z = 0.1·10 / √(1 + 0.5·0.01) = 0.997509...
    z = 0.1 * 10 / math.sqrt(1.005)
    assert psr_from_moments(0.1, 0.0, 101, 0.0, 3.0) == pytest.approx(norm_cdf(z))
    assert norm_cdf(z) == pytest.approx(0.84073, abs=1e-4)


def test_expected_max_sharpe_by_hand_and_against_simulation():
    # N = 100, V = 1: (1−γ)·Φ⁻¹(0.99) + γ·Φ⁻¹(1 − 1/(100e))
    hand = (1 - EULER_GAMMA) * 2.3263478740408408 + EULER_GAMMA * norm_ppf(1 - 1 / (100 * math.e))
    assert expected_max_sharpe(100, 1.0) == pytest.approx(hand)
    assert hand == pytest.approx(2.5306, abs=1e-3)
    simulated = np.random.default_rng(0).standard_normal((20000, 100)).max(axis=1).mean()  # ≈ 2.5076
    assert abs(expected_max_sharpe(100, 1.0) - simulated) < 0.05
    assert expected_max_sharpe(100, 0.25) == pytest.approx(0.5 * hand)
    assert expected_max_sharpe(1, 1.0) == 0.0


def test_deflated_sharpe_uses_the_trials_variance_or_falls_back_to_the_null():
    r = np.random.default_rng(2).normal(0.3, 1.0, 201)
    one = deflated_sharpe(r, n_trials=1)
    assert one.sr_star == 0.0 and one.dsr == pytest.approx(probabilistic_sharpe(r, 0.0))
    fallback = deflated_sharpe(r, n_trials=50)
    assert fallback.variance_source == "null 1/(n-1)" and fallback.variance == pytest.approx(1 / 200)
    assert fallback.sr_star == pytest.approx(expected_max_sharpe(50, 1 / 200))
    logged = deflated_sharpe(r, n_trials=50, trial_variance=0.04)
    assert logged.variance_source == "trials" and logged.sr_star == pytest.approx(expected_max_sharpe(50, 0.04))
    assert logged.dsr < fallback.dsr < one.dsr  # more trials, wider spread: a higher bar
