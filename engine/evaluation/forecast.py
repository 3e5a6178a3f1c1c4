"""Forecast quality of predicted probabilities ("up", or "this trade nets > 0") against outcomes.

Scores, lower is better, averaged over predictions p_i with outcomes y_i ∈ {0, 1}:

    log-loss = −mean(y·ln p + (1 − y)·ln(1 − p))     (p clipped to [1e-12, 1 − 1e-12])
    Brier    = mean((p − y)²)

Both are compared with the prequential base rate b_i: what a forecaster knowing only the past
outcomes would say before prediction i. It is the running frequency with one pseudo-count on
each side (Laplace's rule of succession), b_i = (1 + Σ_{j<i} y_j) / (2 + i): exactly 0.5
before any outcome, never 0 or 1, so its log-loss is finite. Skill = 1 − score(model) /
score(base): > 0 beats the base rate, 0 matches it, < 0 is worse. Inputs are in time order.

AUC is the Mann–Whitney statistic on average ranks (ties share their mean rank, so a tie
between a positive and a negative counts ½): AUC = (R₊ − n₊(n₊ + 1)/2) / (n₊·n₋).
Rank IC is Spearman's ρ: the Pearson correlation of the average ranks, with a day-block
bootstrap interval. The reliability curve puts p into 10 equal-width bins and reports, per
bin, the count, the mean prediction and the observed frequency (None where empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.core.bootstrap import DEFAULT_B, Interval, bootstrap_statistic

EPS = 1e-12


def check_forecasts(p, y) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    if p.shape != y.shape:
        raise ValueError("predictions and outcomes differ in shape")
    if np.any((p < 0) | (p > 1)) or np.any(~np.isin(y, (0.0, 1.0))):
        raise ValueError("predictions must lie in [0, 1] and outcomes be 0 or 1")
    return p, y


def log_loss(p, y) -> float:
    p, y = check_forecasts(p, y)
    q = np.clip(p, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(q) + (1.0 - y) * np.log(1.0 - q)))


def brier(p, y) -> float:
    p, y = check_forecasts(p, y)
    return float(np.mean((p - y) ** 2))


def prequential_base_rate(y) -> np.ndarray:
    """b_i = (1 + Σ_{j<i} y_j) / (2 + i): known before outcome i, starting at 0.5."""
    y = np.asarray(y, dtype=float)
    past = np.concatenate(([0.0], np.cumsum(y)[:-1])) if len(y) else y
    return (1.0 + past) / (2.0 + np.arange(len(y)))


def average_ranks(x) -> np.ndarray:
    """Ranks 1..n, ties given the mean of the ranks they span."""
    x = np.asarray(x, dtype=float)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return (start + (counts + 1) / 2.0)[inverse.reshape(-1)]


def auc(p, y) -> float | None:
    """Area under the ROC curve; None without both outcomes present."""
    p, y = check_forecasts(p, y)
    pos = y == 1.0
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    r_pos = average_ranks(p)[pos].sum()
    return float((r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def spearman(x, y) -> float:
    """Spearman's ρ; NaN when either side is constant."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denom) if denom > 0 else math.nan


def rank_ic(score, realised, days, *, B: int = DEFAULT_B, seed: int = 0) -> Interval | None:
    """Spearman correlation of a score with what followed (a return, or the 0/1 outcome)."""
    return bootstrap_statistic(spearman, days, np.asarray(score, float), np.asarray(realised, float),
                               B=B, seed=seed)


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_predicted: float | None
    observed: float | None


def reliability_curve(p, y, bins: int = 10) -> list[ReliabilityBin]:
    """Bin k holds k/bins ≤ p < (k+1)/bins (the last bin also takes p = 1)."""
    p, y = check_forecasts(p, y)
    k = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = k == b
        n = int(m.sum())
        out.append(ReliabilityBin(b / bins, (b + 1) / bins, n,
                                  float(p[m].mean()) if n else None, float(y[m].mean()) if n else None))
    return out


@dataclass(frozen=True)
class ForecastReport:
    n: int
    base_rate: float  # the realised frequency of y = 1
    log_loss: float
    log_loss_base: float
    log_loss_skill: float | None
    brier: float
    brier_base: float
    brier_skill: float | None
    auc: float | None
    rank_ic: Interval | None
    reliability: list[ReliabilityBin]

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["rank_ic"] = self.rank_ic.as_dict() if self.rank_ic else None
        d["reliability"] = [b.__dict__ for b in self.reliability]
        return d


def skill(model_score: float, base_score: float) -> float | None:
    return 1.0 - model_score / base_score if base_score > 0 else None


def forecast_report(p, y, days, *, B: int = DEFAULT_B, seed: int = 0) -> ForecastReport | None:
    """All of the above for time-ordered predictions `p`, outcomes `y`, their UTC `days`."""
    p, y = check_forecasts(p, y)
    if len(p) == 0:
        return None
    base = prequential_base_rate(y)
    ll, ll_b = log_loss(p, y), log_loss(base, y)
    br, br_b = brier(p, y), brier(base, y)
    return ForecastReport(
        n=len(p), base_rate=float(y.mean()), log_loss=ll, log_loss_base=ll_b,
        log_loss_skill=skill(ll, ll_b), brier=br, brier_base=br_b, brier_skill=skill(br, br_b),
        auc=auc(p, y), rank_ic=rank_ic(p, y, days, B=B, seed=seed), reliability=reliability_curve(p, y))
