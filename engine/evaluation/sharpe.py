"""Sharpe per trade, the probabilistic Sharpe ratio, and the deflated Sharpe ratio.

Per-trade Sharpe: SR = mean(r) / std(r) with the sample std (ddof = 1); r is net bp per trade.
It is not annualised: trades are not evenly spaced in time, and PSR needs the per-observation
figure anyway.

Probabilistic Sharpe ratio (Bailey & López de Prado, 2012): the probability that the true SR
exceeds a benchmark SR*, allowing for the sample size and for non-normal returns,

    PSR(SR*) = Φ( (SR − SR*)·√(n − 1) / √(1 − γ3·SR + (γ4 − 1)/4·SR²) ),

with γ3 the skewness and γ4 the (non-excess) kurtosis of r, both the plain moment estimators
m3/m2^1.5 and m4/m2². The radicand is never negative: γ4 ≥ 1 + γ3² for any distribution, so
it is ≥ (1 − γ3·SR/2)²; it is zero only for degenerate two-point data, where PSR is undefined.

Deflated Sharpe ratio (Bailey & López de Prado, 2014): PSR against the Sharpe the best of N
independent trials would show by luck alone,

    SR* = √V·((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))),   γ = 0.5772156649… (Euler–Mascheroni),

V the variance of the N trials' Sharpes (read from the trials log). Choice when V is unknown
(fewer than two trials logged): V = 1/(n − 1), the sampling variance of a per-trade Sharpe
estimate of n trades when the true SR is 0 (asymptotically Var(SR̂) = (1 + SR²/2)/(n − 1)).
With N ≤ 1 nothing was selected, SR* = 0 and DSR = PSR(0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.evaluation.normal import norm_cdf, norm_ppf

EULER_GAMMA = 0.5772156649015329


def sharpe(returns) -> float | None:
    r = np.asarray(returns, dtype=float)
    if len(r) < 2:
        return None
    sd = r.std(ddof=1)
    if not sd > 0:
        return None
    return float(r.mean() / sd)


def skew_kurtosis(returns) -> tuple[float, float] | None:
    """(γ3, γ4): m3/m2^1.5 and m4/m2² of the central moments; a normal sample gives ≈ (0, 3)."""
    r = np.asarray(returns, dtype=float)
    if len(r) < 2:
        return None
    c = r - r.mean()
    m2 = float(np.mean(c**2))
    if not m2 > 0:
        return None
    return float(np.mean(c**3) / m2**1.5), float(np.mean(c**4) / m2**2)


def psr_from_moments(sr: float, sr_star: float, n: int, skew: float, kurt: float) -> float | None:
    """PSR from the summary numbers (see the module docstring); None when undefined."""
    if n < 2:
        return None
    radicand = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not radicand > 0:
        return None
    return norm_cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(radicand))


def probabilistic_sharpe(returns, sr_star: float = 0.0) -> float | None:
    sr = sharpe(returns)
    moments = skew_kurtosis(returns)
    if sr is None or moments is None:
        return None
    return psr_from_moments(sr, sr_star, len(returns), *moments)


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """SR*: the expected maximum Sharpe of `n_trials` independent zero-edge trials whose Sharpe
    estimates have variance `variance` (the extreme-value approximation above); 0 for N ≤ 1."""
    if n_trials <= 1 or variance <= 0:
        return 0.0
    n = float(n_trials)
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * norm_ppf(1.0 - 1.0 / n)
                                  + EULER_GAMMA * norm_ppf(1.0 - 1.0 / (n * math.e)))


@dataclass(frozen=True)
class DeflatedSharpe:
    sharpe: float | None
    sr_star: float
    variance: float
    variance_source: str  # "trials" | "null 1/(n-1)"
    n_trials: int
    n: int
    skew: float | None
    kurtosis: float | None
    dsr: float | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def deflated_sharpe(returns, n_trials: int, trial_variance: float | None = None) -> DeflatedSharpe:
    """DSR of per-trade `returns` after `n_trials` configurations were tried.

    `trial_variance` is the variance of the trials' Sharpes; None (fewer than two trials
    logged) falls back to 1/(n − 1)."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n = len(r)
    if trial_variance is not None and trial_variance > 0:
        variance, source = float(trial_variance), "trials"
    else:
        variance, source = (1.0 / (n - 1) if n > 1 else 0.0), "null 1/(n-1)"
    sr_star = expected_max_sharpe(n_trials, variance)
    sr = sharpe(r)
    moments = skew_kurtosis(r)
    dsr = None
    if sr is not None and moments is not None:
        dsr = psr_from_moments(sr, sr_star, n, *moments)
    skew, kurt = moments if moments else (None, None)
    return DeflatedSharpe(sr, sr_star, variance, source, int(n_trials), n, skew, kurt, dsr)
