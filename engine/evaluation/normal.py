"""The standard normal CDF Φ and its inverse Φ⁻¹ without scipy.

Φ(x) = ½·(1 + erf(x/√2)), from math.erf (exact to double precision).

Φ⁻¹(p) starts from P. J. Acklam's rational approximation (relative error < 1.15e-9): a
rational function in q = p − ½ on the central region p ∈ [0.02425, 0.97575] and in
r = √(−2·ln(min(p, 1−p))) on the tails. One Halley step on Φ(x) − p then brings it to full
double precision: with e = Φ(x) − p and u = e·√(2π)·exp(x²/2), x ← x − u / (1 + x·u/2).
"""

from __future__ import annotations

import math

_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155705379e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
_P_LOW = 0.02425


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _horner(coeffs: tuple[float, ...], x: float) -> float:
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


def norm_ppf(p: float) -> float:
    """Φ⁻¹(p) for 0 < p < 1; −inf / +inf at 0 / 1."""
    if not 0.0 <= p <= 1.0 or math.isnan(p):
        raise ValueError(f"probability out of [0, 1]: {p!r}")
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if p < _P_LOW:
        r = math.sqrt(-2.0 * math.log(p))
        x = _horner(_C, r) / (_horner(_D, r) * r + 1.0)
    elif p <= 1.0 - _P_LOW:
        q = p - 0.5
        r = q * q
        x = _horner(_A, r) * q / (_horner(_B, r) * r + 1.0)
    else:
        r = math.sqrt(-2.0 * math.log1p(-p))
        x = -_horner(_C, r) / (_horner(_D, r) * r + 1.0)
    e = norm_cdf(x) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)
