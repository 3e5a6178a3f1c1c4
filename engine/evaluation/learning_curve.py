"""Does out-of-sample skill rise with data? The slope of skill against training labels.

Each walk-forward fold f was trained on L_f labels and scored on its own later predictions.
Its out-of-sample Brier skill against the prequential base rate (see forecast) is
S_f = 1 − Σ(p − y)² / Σ(b − y)². The learning slope is the least-squares slope of S_f on
x_f = log10(L_f) (skill per tenfold more labels; learning curves flatten, so a log axis):

    slope = Σ_f (x_f − x̄)(S_f − S̄) / Σ_f (x_f − x̄)².

Its interval is a fixed-design day-block bootstrap: the folds and their label counts are the
design and stay put; within every fold the test predictions are resampled by whole UTC day
(the base-rate forecast b is computed once, in time order, and resampled with its prediction),
S_f and the slope are recomputed, and the 2.5 / 97.5 % points are taken. The criterion
"skill rises with data" is: slope interval lower bound > 0. It needs at least three folds and
two distinct label counts; a fold with fewer than two days, or a resample where a fold's base
score is 0, gives the unbounded interval (no claim).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.core.bootstrap import DEFAULT_B, Interval, day_blocks, draw_counts, percentile_interval
from engine.evaluation.forecast import check_forecasts, prequential_base_rate

MIN_FOLDS = 3


@dataclass(frozen=True)
class FoldForecast:
    training_labels: int
    p: np.ndarray  # predicted probabilities on the fold's test span, in time order
    y: np.ndarray  # outcomes 0/1
    days: np.ndarray  # UTC day of each prediction (the resampling block)


def _per_day_errors(fold: FoldForecast) -> tuple[np.ndarray, np.ndarray, int]:
    p, y = check_forecasts(fold.p, fold.y)
    base = prequential_base_rate(y)
    block, n_days = day_blocks(np.asarray(fold.days))
    model_err = np.bincount(block, weights=(p - y) ** 2, minlength=n_days)
    base_err = np.bincount(block, weights=(base - y) ** 2, minlength=n_days)
    return model_err, base_err, n_days


def _slope(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """OLS slope of each row of s (…, F) on x (F,)."""
    xc = x - x.mean()
    return ((s - s.mean(axis=-1, keepdims=True)) @ xc) / float(xc @ xc)


def skill_slope(folds: Sequence[FoldForecast], *, B: int = DEFAULT_B, seed: int = 0,
                level: float = 0.95) -> Interval | None:
    """Slope of out-of-sample Brier skill on log10(training labels), with its interval;
    None when there are too few folds or label counts to fit a slope."""
    if len(folds) < MIN_FOLDS or any(f.training_labels < 1 or len(f.y) == 0 for f in folds):
        return None
    x = np.log10(np.array([f.training_labels for f in folds], dtype=float))
    if np.ptp(x) == 0:
        return None
    parts = [_per_day_errors(f) for f in folds]
    n = sum(len(f.y) for f in folds)
    if any(b.sum() <= 0 for _, b, _ in parts):
        return None
    skills = np.array([1.0 - m.sum() / b.sum() for m, b, _ in parts])
    estimate = float(_slope(x, skills))
    min_days = min(d for _, _, d in parts)
    if min_days < 2:
        return Interval(estimate, -math.inf, math.inf, n, min_days, level)
    rng = np.random.default_rng(seed)
    resampled = np.empty((B, len(folds)))
    for j, (m, b, d) in enumerate(parts):
        k = draw_counts(d, B, rng)
        base = k @ b
        with np.errstate(divide="ignore", invalid="ignore"):
            resampled[:, j] = 1.0 - (k @ m) / base
    stats = _slope(x, resampled)
    stats = stats[np.isfinite(stats)]
    if len(stats) < B // 2:
        return Interval(estimate, -math.inf, math.inf, n, min_days, level)
    lo, hi = percentile_interval(stats, level)
    return Interval(estimate, lo, hi, n, min_days, level)
