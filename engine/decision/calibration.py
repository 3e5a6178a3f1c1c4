"""Calibrated confidence: the probability that a side's trade nets > 0 after costs.

Why: the models' raw outputs are scores on their own scales (softmax of Q-values saturates
as the reward scale grows; an untrained CNN sits near its class prior), so a threshold on
them means something different before and after training. The threshold compares this
instead: P(the move over the trade horizon beats the round-trip cost in the side's
direction), which is what "the trade nets > 0" means under the one outcome rule
(engine/learning/horizons.py `label_of`).

How: Platt scaling, fitted causally. Every matured label gives two pairs: (the ensemble's
raw BUY score at the decision, whether the move beat the cost upward) and the same for
SELL. The score was computed before that label was trained on, so every pair is an
out-of-sample outcome of the models as they were. A two-parameter logistic regression of
outcome on logit(score) is refitted (Newton's method, deterministic) every `refit_every`
pairs over the last `window` pairs; it is monotone, so the ranking of the models' scores
is kept and only their meaning is fitted. Until `min_pairs` pairs exist there is no
calibrated probability (`p_win` returns None): the decision does not trade greedily while
it is calibrating, and says so.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

EPS = 1e-4          # scores are clipped into [EPS, 1 - EPS] before the logit
NEWTON_STEPS = 25
RIDGE = 1e-3        # a small L2 penalty keeps the fit finite when outcomes separate


def logit(p: float) -> float:
    p = min(max(p, EPS), 1.0 - EPS)
    return math.log(p / (1.0 - p))


def fit_platt(scores: np.ndarray, outcomes: np.ndarray) -> tuple[float, float]:
    """(a, b) of P(outcome) = sigmoid(a * logit(score) + b), by penalised Newton steps."""
    x = np.log(np.clip(scores, EPS, 1 - EPS) / (1 - np.clip(scores, EPS, 1 - EPS)))
    X = np.stack([x, np.ones_like(x)], axis=1)
    y = outcomes.astype(np.float64)
    w = np.array([1.0, 0.0])
    rate = y.mean()
    w[1] = math.log(max(rate, EPS) / max(1 - rate, EPS))
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        grad = X.T @ (p - y) + RIDGE * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + RIDGE * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(w[0]), float(w[1])


class Calibrator:
    def __init__(self, *, window: int, refit_every: int, min_pairs: int) -> None:
        self.window, self.refit_every, self.min_pairs = window, refit_every, min_pairs
        self._scores: deque[float] = deque(maxlen=window)
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._since_fit = 0
        self.coef: tuple[float, float] | None = None
        self.pairs = 0  # every pair ever added (the warm-up count)

    def add(self, score: float, won: bool) -> None:
        if not math.isfinite(score):
            return
        self._scores.append(score)
        self._outcomes.append(bool(won))
        self.pairs += 1
        self._since_fit += 1
        if len(self._scores) >= self.min_pairs and (self.coef is None or self._since_fit >= self.refit_every):
            self.coef = fit_platt(np.array(self._scores), np.array(self._outcomes))
            self._since_fit = 0

    @property
    def ready(self) -> bool:
        return self.coef is not None

    @property
    def win_rate(self) -> float | None:
        """The base rate over the window: how often a side won, whatever the score."""
        return float(np.mean(self._outcomes)) if self._outcomes else None

    def p_win(self, score: float) -> float | None:
        if self.coef is None or not math.isfinite(score):
            return None
        a, b = self.coef
        return 1.0 / (1.0 + math.exp(-(a * logit(score) + b)))
