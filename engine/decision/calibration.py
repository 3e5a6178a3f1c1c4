"""Calibrated confidence: the probability that a side's trade nets > 0 after costs.

Why: the models' raw outputs are scores on their own scales (softmax of Q-values saturates
as the reward scale grows; an untrained CNN sits near its class prior), so a threshold on
them means something different before and after training. The threshold compares this
instead: P(the move over the trade horizon beats the round-trip cost in the side's
direction), which is what "the trade nets > 0" means under the one outcome rule
(engine/learning/horizons.py `label_of`).

How: a logistic regression fitted causally on the models' own out-of-sample outcomes, with
one input per model (stacking; Platt scaling when one model votes). Every matured label
gives two pairs: (each model's logit score for BUY at the decision, whether the move beat
the cost upward) and the same for SELL. The scores were computed before that label was
trained on, so every pair is an out-of-sample outcome of the models as they were. The fit
(penalised Newton steps, deterministic) is redone every `refit_every` pairs over the last
`window` pairs. Why one coefficient per model rather than one on the ensemble's mean: the
models differ in skill, and the mean dilutes the best one. On the lead-lag SIM after 2 h the
DQN's scores ranked the 1m outcome at a rank IC of 0.43 while the CNN's sat at -0.09; their
weighted mean (the ensemble's score, which weights each model's share of training) ranked
at 0.25, and its calibrated probability never reached 0.5. The fit weights each model by
what its scores have been worth; a model that does not vote (COB without a book) enters as
0. Until `min_pairs` pairs exist there is no calibrated probability (`p_win` returns None):
the decision does not trade greedily while it is calibrating, and says so.

No skill shown, no greedy trade: as each label matures, both sides are first scored by the
fit as it stands (the label is not in it yet), and the log-loss gain of those two
probabilities over the fit's own level without its direction (both sides at their mean) is
kept. The models are taken to call the direction only while the mean gain over the window is
above 0 by `SKILL_Z` standard errors of its block means (blocks of `SKILL_BLOCK` labels,
longer than the overlap of neighbouring labels' horizons). Why this baseline and not the base
rate: on `edge = none` SIM the fit beat the base rate out of sample from hour 12 on (+0.01 to
+0.02 nats a pair): whether a move beats the cost in either direction follows the volatility,
which is predictable, but a side chosen on it nets the cost lost on average. Before any test
(12 h of the same market): 14 greedy trades, 9 of them in the last 2 h, at -9.9 bp. While the
test fails, P(win) is still recorded (it is the fit's number) but the greedy action is HOLD,
"no skill shown".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from engine.core.enums import MODELS

EPS = 1e-4          # scores are clipped into [EPS, 1 - EPS] before the logit
NEWTON_STEPS = 25
RIDGE = 1e-3        # a small L2 penalty keeps the fit finite when outcomes separate
SKILL_BLOCK = 25    # labels per block of the skill test: ~6 min at label_every_s = 15
SKILL_MIN_BLOCKS = 4
SKILL_Z = 2.5       # the lower bound of the mean gain, in standard errors of the block means


def logit(p: float) -> float:
    p = min(max(p, EPS), 1.0 - EPS)
    return math.log(p / (1.0 - p))


def fit_logistic(features: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """Coefficients w (one per column, then the intercept) of P(outcome) =
    sigmoid(features @ w[:-1] + w[-1]), by penalised Newton steps from the base rate."""
    X = np.hstack([np.asarray(features, dtype=np.float64).reshape(len(outcomes), -1), np.ones((len(outcomes), 1))])
    y = outcomes.astype(np.float64)
    w = np.zeros(X.shape[1])
    rate = y.mean()
    w[-1] = math.log(max(rate, EPS) / max(1 - rate, EPS))
    penalty = RIDGE * np.eye(len(w))
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        step = np.linalg.solve((X * (p * (1 - p))[:, None]).T @ X + penalty, X.T @ (p - y) + RIDGE * w)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def fit_platt(scores: np.ndarray, outcomes: np.ndarray) -> tuple[float, float]:
    """(a, b) of P(outcome) = sigmoid(a * logit(score) + b)."""
    p = np.clip(scores, EPS, 1 - EPS)
    a, b = fit_logistic(np.log(p / (1 - p))[:, None], outcomes)
    return float(a), float(b)


class Skill(NamedTuple):
    """The fit's out-of-sample log-loss gain over its direction-blind level, in nats per label."""
    gain: float | None    # mean over the window's whole blocks (None: no block yet)
    lower: float | None   # gain - SKILL_Z standard errors of the block means (None: < 2 blocks)
    blocks: int

    @property
    def shown(self) -> bool:
        return self.blocks >= SKILL_MIN_BLOCKS and self.lower is not None and self.lower > 0

    def as_dict(self) -> dict[str, float | int | bool | None]:
        return {"shown": self.shown, "gain_nats": self.gain, "lower_nats": self.lower, "blocks": self.blocks}


NO_SKILL = Skill(None, None, 0)


def _log_loss(p: float, won: bool) -> float:
    p = min(max(p, EPS), 1.0 - EPS)
    return -math.log(p if won else 1.0 - p)


def skill_of(gains: Sequence[float]) -> Skill:
    """The skill test over gains in time order: whole blocks of SKILL_BLOCK, the oldest
    partial one dropped."""
    k = len(gains) // SKILL_BLOCK
    if k == 0:
        return NO_SKILL
    means = np.asarray(list(gains)[len(gains) - k * SKILL_BLOCK:], dtype=np.float64).reshape(k, SKILL_BLOCK).mean(axis=1)
    gain = float(means.mean())
    lower = gain - SKILL_Z * float(means.std(ddof=1)) / math.sqrt(k) if k >= 2 else None
    return Skill(gain, lower, k)


class Calibrator:
    """Pairs of (per-model logit scores, won) in a window, the fit over them, and the
    out-of-sample test of whether the fit beats the base rate."""

    def __init__(self, *, window: int, refit_every: int, min_pairs: int) -> None:
        self.window, self.refit_every, self.min_pairs = window, refit_every, min_pairs
        self._inputs: deque[tuple[float, ...]] = deque(maxlen=window)
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._gains: deque[float] = deque(maxlen=window // 2)  # one per label (two pairs)
        self._since_fit = 0
        self.coef: np.ndarray | None = None
        self.pairs = 0  # every pair ever added (the warm-up count)
        self.skill = NO_SKILL

    def add(self, inputs: Sequence[float], won: bool) -> None:
        """One out-of-sample outcome: a side's per-model inputs (`inputs_of`) and whether it won."""
        inputs = tuple(float(x) for x in inputs)
        if not all(math.isfinite(x) for x in inputs):
            return
        if self._inputs and len(inputs) != len(self._inputs[0]):
            raise ValueError(f"calibration inputs have {len(inputs)} values, earlier ones {len(self._inputs[0])}")
        self._inputs.append(inputs)
        self._outcomes.append(bool(won))
        self.pairs += 1
        self._since_fit += 1
        if len(self._inputs) >= self.min_pairs and (self.coef is None or self._since_fit >= self.refit_every):
            self.coef = fit_logistic(np.array(self._inputs), np.array(self._outcomes))
            self._since_fit = 0

    def add_label(self, buy: Sequence[float], sell: Sequence[float], up_won: bool, down_won: bool) -> None:
        """One matured label: both sides' inputs and outcomes, tested (module docstring), then added."""
        p_buy, p_sell = self.p_win(buy), self.p_win(sell)
        if p_buy is not None and p_sell is not None:
            level = (p_buy + p_sell) / 2
            self._gains.append(_log_loss(level, up_won) + _log_loss(level, down_won)
                               - _log_loss(p_buy, up_won) - _log_loss(p_sell, down_won))
            self.skill = skill_of(self._gains)
        self.add(buy, up_won)
        self.add(sell, down_won)

    @property
    def ready(self) -> bool:
        return self.coef is not None

    @property
    def win_rate(self) -> float | None:
        """The base rate over the window: how often a side won, whatever the score."""
        return float(np.mean(self._outcomes)) if self._outcomes else None

    def p_win(self, inputs: Sequence[float]) -> float | None:
        if self.coef is None or len(inputs) != len(self.coef) - 1 or not all(math.isfinite(x) for x in inputs):
            return None
        z = float(np.dot(self.coef[:-1], inputs) + self.coef[-1])
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def inputs_of(per_model: Mapping[str, Mapping[str, float] | None], side: str) -> tuple[float, ...]:
    """A side's calibration inputs: each model's logit score for it, in MODELS order, 0 for
    a model that does not vote."""
    return tuple(logit(scores[side]) if scores is not None else 0.0
                 for scores in (per_model.get(m) for m in MODELS))
