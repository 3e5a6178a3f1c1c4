"""DQN agent on the flat 15,806-float state: dueling MLP, double-DQN targets from a target
network, Huber loss, prioritized replay with compensated strata.

Actions: BUY = 0, SELL = 1; HOLD is worth 0 by definition and is not a head. The Q-values are
each side's expected net return over the trade horizon, in units of 10 bp (`BP_PER_REWARD`):
the DQN is trained as a contextual bandit on both sides of every labelled decision and on
each closed trade (models/policy.py), and the ensemble reads sigmoid(Q) as its score
(engine/decision/ensemble.py). Its input is standardised causally by the `RunningNorm` at
the front of the network (models/normalizer.py), saved in the checkpoint with the weights.

Contribution weights are per-sample loss weights: the stored reward stays the real
reward, and the loss is mean(w * is * huber) over the batch (w the contribution, is the
importance weight), so a model with a small contribution learns less from that trade
instead of learning a shrunken value.

Every transition is terminal (done=True, target = reward), so gamma and the target network
take no part today; `double_dqn_targets` keeps the bootstrapped path for non-terminal
transitions, whose next-state passes run only for rows that are not terminal.

Sizing: 15,806 -> 128 -> 128 with small value/advantage streams (~2.0M parameters). The
first layer is >95 % of the FLOPs, so its width sets the speed. The trainer trains on one
thread on a 2-core machine (models/trainer.py); measured there with other processes loading
the CPU, 192 units gave 24 double-DQN (40 terminal) updates/s at batch 32, 128 units 40 (54).
The first layer keeps its weight as (in, out) (`WideInput`) for the same reason, and the
frozen inference copies hold it as (out, in) (`inference_net`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.enums import Side
from engine.features.schema import SCHEMA
from models.learner import NetLearner
from models.normalizer import RunningNorm
from models.replay_memory import Batch, PrioritizedReplay

BUY, SELL = 0, 1
# Q-values and rewards are in units of 10 bp of notional: the comprehensive reward's main
# term is the net return in percent x 10, and the bandit labels (models/policy.py) use the
# same unit, so a Q of 0.5 means "expected to net 5 bp".
BP_PER_REWARD = 10.0
ACTIONS = (Side.BUY, Side.SELL)  # action index -> side


class WideInput(nn.Module):
    """The trained networks' first layer: a Linear on the 15,806-wide state with its
    weight stored (in, out).

    Why: the weight gradient of a (32 x 15,806) batch is then X^T G, which MKL computes in
    ~3 ms on one EPYC thread, against ~6 ms for nn.Linear's G^T X; that is most of the step
    from ~57 to ~65-70 double-DQN updates/s at batch 32. Batch-1 inference wants the other
    layout (see `inference_net`). Initialised as nn.Linear is (uniform, bound 1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        bound = 1.0 / math.sqrt(in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x, self.weight)


class DuelingQNet(nn.Module):
    """Q(s, a) = V(s) + A(s, a) - mean_a A(s, a) (Wang et al. 2016). `for_inference`
    builds the first layer as an nn.Linear, (out, in), for the frozen batch-1 copies."""

    def __init__(self, input_dim: int = SCHEMA.dim, hidden: int = 128, n_actions: int = 2, *,
                 for_inference: bool = False) -> None:
        super().__init__()
        self.input_dim, self.hidden, self.n_actions = input_dim, hidden, n_actions
        self.norm = RunningNorm(input_dim)
        first = nn.Linear(input_dim, hidden) if for_inference else WideInput(input_dim, hidden)
        self.body = nn.Sequential(first, nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        half = hidden // 2
        self.value = nn.Sequential(nn.Linear(hidden, half), nn.ReLU(), nn.Linear(half, 1))
        self.advantage = nn.Sequential(nn.Linear(hidden, half), nn.ReLU(), nn.Linear(half, n_actions))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(self.norm(x))
        adv = self.advantage(h)
        return self.value(h) + adv - adv.mean(dim=1, keepdim=True)


def inference_net(net: DuelingQNet) -> DuelingQNet:
    """A frozen copy of a trained Q-network for batch-1 inference, first layer (out, in).

    Why: one state times a 15,806 x 128 weight that the CNN's forward has just pushed out of
    cache reads 8 MB from memory; MKL does that in ~0.33 ms from the (out, in) layout and
    ~1.0-1.1 ms from (in, out) (measured, one EPYC thread), a fifth of the decision budget."""
    copy = DuelingQNet(net.input_dim, net.hidden, net.n_actions, for_inference=True)
    copy = copy.to(next(net.parameters()).device).eval().requires_grad_(False)
    load_inference_weights(copy, net)
    return copy


def load_inference_weights(dst: DuelingQNet, src: DuelingQNet) -> None:
    """Copy a trained network's weights into an `inference_net` copy."""
    state = src.state_dict()
    state["body.0.weight"] = state["body.0.weight"].t()
    dst.load_state_dict(state)


def double_dqn_targets(
    online: nn.Module,
    target: nn.Module,
    rewards: torch.Tensor,
    next_states: torch.Tensor,
    dones: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """y = r + gamma * (1 - done) * Q_target(s', argmax_a Q_online(s', a)); next-state passes
    only over the non-terminal rows."""
    y = rewards.clone()
    live = torch.nonzero(dones < 0.5).squeeze(1)
    if len(live) == 0:
        return y
    # All rows live (the usual non-terminal batch): no 2 MB gather of the next states.
    s2 = next_states if len(live) == len(dones) else next_states.index_select(0, live)
    with torch.no_grad():
        best = online(s2).argmax(dim=1, keepdim=True)
        y[live] += gamma * target(s2).gather(1, best).squeeze(1).float()
    return y


class DQNAgent(NetLearner):
    """The online Q-network (the base's `net`), its target network and replay memory."""

    def __init__(
        self,
        input_dim: int = SCHEMA.dim,
        *,
        hidden: int = 128,
        device: torch.device | str = "cpu",
        lr: float = 1e-4,
        gamma: float = 0.99,
        memory_capacity: int = 10_000,
        learn_start: int = 32,
        target_update_every: int = 250,
        strata_share: dict[str, float] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(DuelingQNet(input_dim, hidden), lr=lr, device=device)
        self.input_dim = input_dim
        self.gamma, self.learn_start, self.target_update_every = gamma, learn_start, target_update_every
        self.target = DuelingQNet(input_dim, hidden).to(self.device)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False).eval()
        shares = {"positive": 0.1, "extrema": 0.05, "clear_move": 0.1} if strata_share is None else strata_share
        self.memory = PrioritizedReplay(memory_capacity, input_dim, strata_share=shares, rng=rng)

    @property
    def online(self) -> DuelingQNet:
        return self.net

    def act(self, state: np.ndarray | torch.Tensor) -> tuple[int, np.ndarray, float]:
        """Greedy action, its Q-values, and confidence = softmax(Q)[action]."""
        return act_with(self.online, state, self.device)

    def remember(
        self,
        state: np.ndarray,
        action: int,
        reward: float,
        next_state: np.ndarray | None,
        done: bool,
        weight: float = 1.0,
        strata: tuple[str, ...] = (),
    ) -> None:
        """Store one transition. `weight` is the contribution (a loss weight); reward > 0
        tags the transition "positive"; callers add "extrema"/"clear_move" by known-at rules."""
        state = np.asarray(state, dtype=np.float32)
        if state.shape != (self.input_dim,) or not np.isfinite(state).all():
            raise ValueError(f"state must be finite with shape ({self.input_dim},), got {state.shape}")
        if not done and (next_state is None or not np.isfinite(next_state).all()):
            raise ValueError("a non-terminal transition needs a finite next_state")
        if not (math.isfinite(reward) and math.isfinite(weight)) or action not in (BUY, SELL):
            raise ValueError(f"bad transition: action={action} reward={reward} weight={weight}")
        tags = tuple(strata) + (("positive",) if reward > 0 else ())
        self.memory.add(state, action, reward, None if done else next_state, done, weight, tags)

    def replay(self, batch_size: int = 32) -> float | None:
        """One prioritized double-DQN update. None while the memory holds fewer than
        max(batch_size, learn_start) items; NaN when the step was skipped as non-finite."""
        if len(self.memory) < max(batch_size, self.learn_start):
            return None
        batch = self.memory.sample(batch_size)
        loss, td = self.learn(batch)
        if math.isfinite(loss):
            self.memory.update_priorities(batch.indices, td)
        return loss

    def learn(self, batch: Batch) -> tuple[float, np.ndarray]:
        """Apply one update on an explicit batch; returns (loss or NaN, |TD errors|)."""
        # Inputs were checked finite in remember(); a non-finite loss is still caught below.
        t = {k: torch.from_numpy(getattr(batch, k)).to(self.device) for k in
             ("states", "actions", "rewards", "next_states", "dones", "weights", "is_weights")}
        y = double_dqn_targets(self.online, self.target, t["rewards"], t["next_states"], t["dones"], self.gamma)
        sample_w = t["weights"] * t["is_weights"]
        td_holder: list[torch.Tensor] = []

        def compute_loss() -> torch.Tensor:
            q = self.online(t["states"]).gather(1, t["actions"][:, None]).squeeze(1).float()
            td_holder.append((q - y).detach())
            per_sample = F.smooth_l1_loss(q, y, reduction="none")
            return (sample_w * per_sample).mean()

        loss = self.step(compute_loss)
        if math.isfinite(loss) and self.updates % self.target_update_every == 0:
            self.target.load_state_dict(self.online.state_dict())
        td = td_holder[0].abs().cpu().numpy() if td_holder else np.zeros(len(batch.indices))
        return loss, td


def act_with(net: nn.Module, state: np.ndarray | torch.Tensor, device: torch.device) -> tuple[int, np.ndarray, float]:
    """Greedy BUY/SELL from a Q-network (used on the agent and on the trainer's inference copy)."""
    x = torch.as_tensor(state, dtype=torch.float32, device=device).reshape(1, -1)
    with torch.inference_mode():
        q = net(x)[0].float()
        probs = torch.softmax(q, dim=0)
    action = int(q.argmax())
    return action, q.cpu().numpy(), float(probs[action])
