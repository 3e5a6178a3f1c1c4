"""The ensemble: three models' outputs -> one action, a confidence and each model's share.

Each model gives a probability that BUY is right: the CNN from its 5m and 15m direction
heads (P(up) against P(down)), the DQN from softmax(Q), the COB model from softmax of its
logits. A model's contribution is its base weight (config) times (CONFIDENCE_FLOOR + its
confidence |2p - 1|), normalised to sum 1; the floor keeps an undecided model's share from
vanishing, so it still trains on the outcome. The ensemble's P(buy) is the
contribution-weighted mean; the action is BUY at or above 0.5, SELL below; the confidence
is max(p, 1 - p). HOLD is not an action: a signal under the threshold simply does not trade.
"""

from __future__ import annotations

import math

import numpy as np

from engine.core.enums import ModelName, Side
from engine.decision.ports import Prediction
from engine.features.schema import HORIZONS

CONFIDENCE_FLOOR = 0.5
CNN_DIRECTION_HORIZONS = ("5m", "15m")  # the heads the CNN's vote is read from
_HORIZON_INDEX = {name: i for i, (name, _) in enumerate(HORIZONS)}
DOWN, FLAT, UP = 0, 1, 2  # class order of each CNN horizon head


def p_buy_from_two(logits: np.ndarray) -> float:
    """Softmax probability of the first of two (BUY, SELL) scores, computed stably."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max()
    e = np.exp(z)
    return float(e[0] / e.sum())


def cnn_up_down(cnn_predictions: np.ndarray) -> tuple[float, float]:
    """Mean P(up) and P(down) over the CNN's direction horizons."""
    probs = np.asarray(cnn_predictions[: 3 * len(HORIZONS)]).reshape(len(HORIZONS), 3)
    rows = [probs[_HORIZON_INDEX[h]] for h in CNN_DIRECTION_HORIZONS]
    return float(np.mean([r[UP] for r in rows])), float(np.mean([r[DOWN] for r in rows]))


def model_p_buy(pred: Prediction) -> dict[str, float]:
    """Each model's probability that BUY is right, from its raw outputs."""
    up, down = cnn_up_down(pred.cnn_predictions)
    return {
        ModelName.CNN: up / (up + down) if up + down > 0 else 0.5,
        ModelName.DQN: p_buy_from_two(pred.dqn_q),
        ModelName.COB_RL: p_buy_from_two(pred.cob_logits),
    }


def combine(p_buy: dict[str, float], base: dict[str, float]) -> tuple[Side, float, dict[str, float]]:
    """(action, confidence, contributions) from per-model P(buy) and base weights.

    A model whose probability is not a finite number in [0, 1] does not vote (share 0):
    one broken output must not poison the others' decision. Raises ValueError when no
    model is left with a positive weight."""
    valid = {m: p for m, p in p_buy.items() if math.isfinite(p) and 0.0 <= p <= 1.0}
    raw = {m: base.get(m, 0.0) * (CONFIDENCE_FLOOR + abs(2.0 * p - 1.0)) if m in valid else 0.0 for m, p in p_buy.items()}
    total = sum(raw.values())
    if not total > 0:
        raise ValueError(f"no model can vote: probabilities {p_buy}, base weights {base}")
    contributions = {m: w / total for m, w in raw.items()}
    p = sum(contributions[m] * valid[m] for m in valid)
    action = Side.BUY if p >= 0.5 else Side.SELL
    return action, max(p, 1.0 - p), contributions
