"""Block bootstrap: confidence intervals that respect same-day (or same-hour) dependence.

Used by `tickdesk evaluate` (blocks are UTC days) and by the session summary (blocks are
event-time hours, engine/runtime/headless.py).

Trades (or predictions) on one UTC day share a regime: volatility, trend, a news shock. Treating
them as independent makes every interval too narrow. So the resampling unit is the day: each
of B resamples draws D whole days with replacement from the D days observed, keeps every item
of every drawn day (a day drawn twice counts twice), and recomputes the statistic. The 95 %
interval is the percentile one: the 2.5 % and 97.5 % points of the B statistics.

For the mean this is fast in closed form per resample: with per-day sums s_d and counts c_d,
mean* = Σ_d k_d·s_d / Σ_d k_d·c_d, where k_d is how often day d was drawn.

Honesty floor: with fewer than `min_days` distinct days (default 5) the between-day spread
cannot be estimated, and the interval returned is (−∞, +∞): no claim either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

DEFAULT_B = 2000
MIN_DAYS = 5


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval; `days` resampling blocks, `n` items."""

    estimate: float
    low: float
    high: float
    n: int
    days: int
    level: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def as_dict(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n,
                "days": self.days, "level": self.level}


def day_blocks(days: np.ndarray) -> tuple[np.ndarray, int]:
    _, inverse = np.unique(np.asarray(days), return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse, int(inverse.max()) + 1 if len(inverse) else 0


def draw_counts(n_days: int, B: int, rng: np.random.Generator) -> np.ndarray:
    """(B, D) matrix: how many times each day is drawn in each resample. Drawing D days
    uniformly with replacement gives counts ~ Multinomial(D, (1/D, ..., 1/D)); rows sum to D."""
    return rng.multinomial(n_days, np.full(n_days, 1.0 / n_days), size=B).astype(float)


def percentile_interval(stats: np.ndarray, level: float) -> tuple[float, float]:
    alpha = 1.0 - level
    lo, hi = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def bootstrap_mean(values, days, *, B: int = DEFAULT_B, seed: int = 0, level: float = 0.95,
                   min_days: int = MIN_DAYS) -> Interval | None:
    """Mean of `values` with a day-block percentile interval; None when there are no values.

    Non-finite values are dropped first (a baseline trade that could not be filled)."""
    v = np.asarray(values, dtype=float)
    d = np.asarray(days)
    if v.shape != d.shape:
        raise ValueError("values and days differ in shape")
    keep = np.isfinite(v)
    v, d = v[keep], d[keep]
    if len(v) == 0:
        return None
    block, n_days = day_blocks(d)
    estimate = float(v.mean())
    if n_days < max(min_days, 2):
        return Interval(estimate, -math.inf, math.inf, len(v), n_days, level)
    sums = np.bincount(block, weights=v, minlength=n_days)
    counts = np.bincount(block, minlength=n_days).astype(float)
    k = draw_counts(n_days, B, np.random.default_rng(seed))
    stats = (k @ sums) / (k @ counts)
    lo, hi = percentile_interval(stats, level)
    return Interval(estimate, lo, hi, len(v), n_days, level)


def bootstrap_paired_difference(model, baseline, days, **kwargs) -> Interval | None:
    """Mean of (model − baseline) per trade, pairs at the same entries, resampled by day.

    Pairing removes the market move both share, so the interval is on the difference itself.
    Pairs where either side is non-finite are dropped."""
    m = np.asarray(model, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if m.shape != b.shape:
        raise ValueError("model and baseline differ in shape")
    return bootstrap_mean(m - b, days, **kwargs)


def bootstrap_statistic(statistic: Callable[..., float], days, *arrays, B: int = DEFAULT_B,
                        seed: int = 0, level: float = 0.95,
                        min_days: int = MIN_DAYS) -> Interval | None:
    """Any statistic of aligned arrays (e.g. a rank correlation), resampled by whole days.

    `statistic(*resampled_arrays)` may return NaN for a degenerate resample (a constant
    column); those resamples are left out of the percentiles."""
    d = np.asarray(days)
    cols = [np.asarray(a) for a in arrays]
    if any(len(c) != len(d) for c in cols):
        raise ValueError("arrays and days differ in length")
    if len(d) == 0:
        return None
    estimate = float(statistic(*cols))
    block, n_days = day_blocks(d)
    if n_days < max(min_days, 2) or not math.isfinite(estimate):
        return Interval(estimate, -math.inf, math.inf, len(d), n_days, level)
    members = [np.flatnonzero(block == j) for j in range(n_days)]
    rng = np.random.default_rng(seed)
    stats = np.empty(B)
    for i in range(B):
        idx = np.concatenate([members[j] for j in rng.integers(0, n_days, size=n_days)])
        stats[i] = statistic(*(c[idx] for c in cols))
    stats = stats[np.isfinite(stats)]
    if len(stats) < B // 2:
        return Interval(estimate, -math.inf, math.inf, len(d), n_days, level)
    lo, hi = percentile_interval(stats, level)
    return Interval(estimate, lo, hi, len(d), n_days, level)


def bootstrap_day_paired_difference(values_a, days_a, values_b, days_b, *, B: int = DEFAULT_B,
                                    seed: int = 0, level: float = 0.95,
                                    min_days: int = MIN_DAYS) -> Interval | None:
    """mean(a) − mean(b) for two variants that traded the same days but not the same entries
    (online vs frozen). Both are resampled with the same drawn days, so the market of a day
    is shared: diff* = Σk_d·s_ad / Σk_d·c_ad − Σk_d·s_bd / Σk_d·c_bd over the union of days
    (a day a variant did not trade adds nothing to its sums). Resamples where either variant
    has no trades are left out. None when either variant has no trades at all."""
    a, b = np.asarray(values_a, dtype=float), np.asarray(values_b, dtype=float)
    da, db = np.asarray(days_a), np.asarray(days_b)
    keep_a, keep_b = np.isfinite(a), np.isfinite(b)
    a, da, b, db = a[keep_a], da[keep_a], b[keep_b], db[keep_b]
    if len(a) == 0 or len(b) == 0:
        return None
    block, n_days = day_blocks(np.concatenate([da, db]))
    ba, bb = block[:len(a)], block[len(a):]
    estimate = float(a.mean() - b.mean())
    n = len(a) + len(b)
    if n_days < max(min_days, 2):
        return Interval(estimate, -math.inf, math.inf, n, n_days, level)
    k = draw_counts(n_days, B, np.random.default_rng(seed))
    sa, ca = k @ np.bincount(ba, weights=a, minlength=n_days), k @ np.bincount(ba, minlength=n_days)
    sb, cb = k @ np.bincount(bb, weights=b, minlength=n_days), k @ np.bincount(bb, minlength=n_days)
    ok = (ca > 0) & (cb > 0)
    stats = sa[ok] / ca[ok] - sb[ok] / cb[ok]
    if len(stats) < B // 2:
        return Interval(estimate, -math.inf, math.inf, n, n_days, level)
    lo, hi = percentile_interval(stats, level)
    return Interval(estimate, lo, hi, n, n_days, level)
