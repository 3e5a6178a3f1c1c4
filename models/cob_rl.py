"""COB model: a compact network on the 48 consolidated-order-book features
(engine/features/cob.py) that says which side the book favours: BUY = 0 or SELL = 1.

Outputs: side logits and a value (BUY's expected net return, in reward units). Confidence =
softmax(logits) at the chosen side.

Training is a contextual bandit with both sides labelled: every labelled decision (and
every closed trade) says which side's move beat the round-trip cost, if either, whoever
chose the action; so the target needs no importance correction for the ensemble having
taken the action (an actor-critic step on the ensemble's own action, as this model had
before, learns the ensemble's choices, not the book's). Where there is no order book (a
bars-only replay) its input is all zero: it is not trained on that constant and it does not
vote (engine/decision/ensemble.py). The contribution weight multiplies each sample's loss.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.features.schema import COB_FEATURES
from models.learner import NetLearner

class COBNet(nn.Module):
    def __init__(self, input_dim: int = COB_FEATURES, hidden: int = 128, n_actions: int = 2) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(input_dim, hidden), nn.LayerNorm(hidden), nn.GELU(),
            nn.Linear(hidden, hidden), nn.GELU(),
        )
        self.policy = nn.Linear(hidden, n_actions)
        self.value = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(action logits (B, 2), value (B,))."""
        h = self.body(x)
        return self.policy(h), self.value(h).squeeze(1)


def cob_loss(
    net: COBNet, states: torch.Tensor, winners: torch.Tensor, values: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """A bandit target, which needs no correction for who chose the action: cross-entropy
    toward the side whose move beat the round-trip cost (0 BUY, 1 SELL; -1 neither, left out
    of the cross-entropy) plus a Huber regression of the value head on BUY's net return (in
    reward units, models/dqn.py `BP_PER_REWARD`). Mean of w x (CE + Huber) over the batch."""
    logits, value = net(states)
    known = winners >= 0
    ce = F.cross_entropy(logits.float(), winners.clamp_min(0), reduction="none") * known
    per_sample = ce + F.smooth_l1_loss(value.float(), values, reduction="none")
    return (weights * per_sample).mean()


class COBRLAgent(NetLearner):
    def __init__(self, input_dim: int = COB_FEATURES, *, device: torch.device | str = "cpu", lr: float = 1e-3) -> None:
        super().__init__(COBNet(input_dim), lr=lr, device=device)

    def train_step(self, states: np.ndarray, winners: np.ndarray, values: np.ndarray, weights: np.ndarray) -> float:
        """One step on (B, 48) states, (B,) winning sides (-1 none), BUY's net returns and
        contribution weights. Returns the loss, or NaN when the step was skipped as non-finite."""
        s, v, w = self.tensor(states), self.tensor(values), self.tensor(weights)
        a = self.tensor(winners, torch.int64)
        return self.step(lambda: cob_loss(self.net, s, a, v, w), s, v, w)


def cob_decide(net: COBNet, cob: np.ndarray | torch.Tensor, device: torch.device) -> tuple[int, np.ndarray, float, float]:
    """(action, logits, confidence = softmax(logits)[action], value) for one book state."""
    x = torch.as_tensor(cob, dtype=torch.float32, device=device).reshape(1, -1)
    with torch.inference_mode():
        logits, value = net(x)
        logits = logits[0].float()
        probs = torch.softmax(logits, dim=0)
    action = int(logits.argmax())
    return action, logits.cpu().numpy(), float(probs[action]), float(value[0])
