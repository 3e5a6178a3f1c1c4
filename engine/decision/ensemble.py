"""The ensemble: three models' outputs -> one raw score per side and each model's share.

Each model gives, for BUY and for SELL, a score that the side's trade nets > 0 over the
trade horizon (`[models] trade_horizon`):
  - CNN: P(up) and P(down) of that horizon's head. Classes are cut at the round-trip cost,
    so "flat" (neither side pays) is a real abstain vote: 85 % flat gives both sides 0.15
    at most.
  - DQN: sigmoid(Q) of each side's expected net return (in units of 10 bp; HOLD is 0).
  - COB: softmax of its BUY/SELL logits; it does not vote without an order book (its input
    is all zero and its output a constant).
A model's contribution is its base weight times (CONFIDENCE_FLOOR + |score_buy -
score_sell|), normalised to sum 1; the floor keeps an undecided model's share from
vanishing, so it still trains on the outcome. A model whose scores are not finite numbers
in [0, 1] does not vote (share 0). The ensemble's score per side is the
contribution-weighted mean. These are raw scores; the calibrator
(engine/decision/calibration.py) turns them into the probability the threshold compares.
"""

from __future__ import annotations

import math

import numpy as np

from engine.core.enums import ModelName, Side
from engine.decision.ports import Prediction
from engine.features.schema import HORIZONS

CONFIDENCE_FLOOR = 0.5
_HORIZON_INDEX = {name: i for i, (name, _) in enumerate(HORIZONS)}
DOWN, FLAT, UP = 0, 1, 2  # class order of each CNN horizon head

SideScores = dict[Side, float]


def softmax_first(logits: np.ndarray) -> float:
    """Softmax probability of the first of two (BUY, SELL) scores, computed stably."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max()
    e = np.exp(z)
    return float(e[0] / e.sum())


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def cnn_classes(cnn_predictions: np.ndarray, horizon: str) -> tuple[float, float, float]:
    """(P(down), P(flat), P(up)) of one CNN horizon head."""
    probs = np.asarray(cnn_predictions[: 3 * len(HORIZONS)]).reshape(len(HORIZONS), 3)[_HORIZON_INDEX[horizon]]
    return float(probs[DOWN]), float(probs[FLAT]), float(probs[UP])


def model_scores(pred: Prediction, horizon: str) -> dict[ModelName, SideScores | None]:
    """Each model's BUY and SELL score from its raw outputs; None for a model that cannot vote."""
    down, _, up = cnn_classes(pred.cnn_predictions, horizon)
    q = np.asarray(pred.dqn_q, dtype=np.float64)
    p_buy = softmax_first(pred.cob_logits)
    return {
        ModelName.CNN: {Side.BUY: up, Side.SELL: down},
        ModelName.DQN: {Side.BUY: sigmoid(float(q[0])), Side.SELL: sigmoid(float(q[1]))},
        ModelName.COB_RL: {Side.BUY: p_buy, Side.SELL: 1.0 - p_buy} if pred.cob_active else None,
    }


def _valid(scores: SideScores | None) -> bool:
    return scores is not None and all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in scores.values())


def combine(scores: dict[ModelName, SideScores | None], base: dict[str, float]) -> tuple[SideScores, dict[str, float]]:
    """(ensemble score per side, contributions) from per-model scores and base weights.
    Raises ValueError when no model is left with a positive weight."""
    raw = {m: base.get(m, 0.0) * (CONFIDENCE_FLOOR + abs(s[Side.BUY] - s[Side.SELL])) if _valid(s) else 0.0
           for m, s in scores.items()}
    total = sum(raw.values())
    if not total > 0:
        raise ValueError(f"no model can vote: scores {scores}, base weights {base}")
    contributions = {m: w / total for m, w in raw.items()}
    side_scores = {side: sum(contributions[m] * s[side] for m, s in scores.items() if contributions[m] > 0)
                   for side in Side}
    return side_scores, contributions
