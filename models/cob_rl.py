"""COB RL model: a compact network on the 48 consolidated-order-book features
(engine/features/cob.py) that picks BUY = 0 or SELL = 1 from the book alone.

Outputs: action logits (policy over BUY/SELL) and a state value V(s) (the expected reward
of trading from this book state). Confidence = softmax(logits) at the chosen action.

Training is a one-step actor-critic on closed-trade outcomes (every trade is a terminal,
one-decision episode): the policy term is reward-weighted by the advantage (r - V(s)),
which raises the probability of actions that beat the baseline and lowers the others; the
value term regresses V(s) on r with a Huber loss; a small entropy bonus keeps the policy
from collapsing early. The contribution weight multiplies each sample's loss (mean of
w * loss, so it still matters for a single-trade step), never the reward: a model that
contributed little to a trade learns less from it, not a shrunken value of it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.features.schema import COB_FEATURES
from models.learner import NetLearner

ENTROPY_BONUS = 0.01


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
    net: COBNet, states: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    logits, value = net(states)
    logits, value = logits.float(), value.float()
    logp = F.log_softmax(logits, dim=1)
    advantage = (rewards - value).detach()
    policy = -advantage * logp.gather(1, actions[:, None]).squeeze(1)
    entropy = -(logp.exp() * logp).sum(1)
    per_sample = policy + F.smooth_l1_loss(value, rewards, reduction="none") - ENTROPY_BONUS * entropy
    return (weights * per_sample).mean()


class COBRLAgent(NetLearner):
    def __init__(self, input_dim: int = COB_FEATURES, *, device: torch.device | str = "cpu", lr: float = 1e-3) -> None:
        super().__init__(COBNet(input_dim), lr=lr, device=device)

    def train_step(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray, weights: np.ndarray) -> float:
        """One step on (B, 48) states, (B,) actions, rewards and contribution weights.
        Returns the loss, or NaN when the step was skipped as non-finite."""
        s, r, w = self.tensor(states), self.tensor(rewards), self.tensor(weights)
        a = self.tensor(actions, torch.int64)
        return self.step(lambda: cob_loss(self.net, s, a, r, w), s, r, w)


def cob_decide(net: COBNet, cob: np.ndarray | torch.Tensor, device: torch.device) -> tuple[int, np.ndarray, float, float]:
    """(action, logits, confidence = softmax(logits)[action], value) for one book state."""
    x = torch.as_tensor(cob, dtype=torch.float32, device=device).reshape(1, -1)
    with torch.inference_mode():
        logits, value = net(x)
        logits = logits[0].float()
        probs = torch.softmax(logits, dim=0)
    action = int(logits.argmax())
    return action, logits.cpu().numpy(), float(probs[action]), float(value[0])
