"""DQN agent: a wide-and-deep dueling Q-network on the decision view of the state,
double-DQN targets from a target network, Huber loss, prioritized replay with compensated
strata.

Actions: BUY = 0, SELL = 1; HOLD is worth 0 by definition and is not a head. The Q-values are
each side's expected net return over the trade horizon, in units of 10 bp (`BP_PER_REWARD`):
the DQN is trained as a contextual bandit on both sides of every labelled decision and on
each closed trade (models/policy.py), and the ensemble reads sigmoid(Q) as its score
(engine/decision/ensemble.py).

The decision view (`decision_view`): the agent takes the whole 15,822-float state (its
replay memory, checkpoints and callers see one state layout) but its network reads 214 of
them: the newest `RECENT_ROWS` rows of the ETH tick, 1s and 1m blocks and of the BTC 1m
block, the trailing returns, the market regime and the position. Why: a label arrives every 15 s of event time,
about 5,800 a day, and the signal in a bar's next move is weak (a rank IC of 0.3 is a strong
one). Measured prequentially on 8 h of lead-lag SIM (1,900 labels, one replay step per
label, rank IC over the last 1,600): the former MLP on all 15,806 floats of the state then -0.09, with its
slow blocks masked -0.12 (windows of 300 swung from +0.26 to -0.13: it fits the drift of
the hour it is in); on this view a linear Q 0.24-0.28 with every window > 0; a ridge fit on
BTC's last three bars alone, the planted pattern's own inputs, 0.33. The slow context (1h and
1d bars, pivots, the 300-step history) is the CNN's to summarise; the CNN's outputs are not
in the view, so the DQN's input does not drift as the CNN trains.

Wide and deep (Cheng et al. 2016): Q = a linear map of the standardised view plus a small
dueling MLP of it, the MLP at a tenth of the learning rate. On the same 8 h: linear 0.28,
linear plus MLP at a tenth 0.29, at the full rate 0.14, the MLP alone 0.15. The linear part
learns a weak signal from few samples; the MLP may add what is not linear, slowly enough
not to fit the noise. The view's input is standardised causally by the `RunningNorm` at the
front of the network (models/normalizer.py), saved in the checkpoint with the weights, and
the view's indices are a buffer of the network: a checkpoint of another view does not load.

Contribution weights are per-sample loss weights: the stored reward stays the real
reward, and the loss is mean(w * is * huber) over the batch (w the contribution, is the
importance weight), so a model with a small contribution learns less from that trade
instead of learning a shrunken value.

Every transition is terminal (done=True, target = reward), so gamma and the target network
take no part today; `double_dqn_targets` keeps the bootstrapped path for non-terminal
transitions, whose next-state passes run only for rows that are not terminal.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.enums import Side
from engine.features.schema import SCHEMA, FeatureSchema
from models.learner import NetLearner
from models.normalizer import RunningNorm
from models.replay_memory import Batch, PrioritizedReplay

BUY, SELL = 0, 1
# Q-values and rewards are in units of 10 bp of notional: the comprehensive reward's main
# term is the net return in percent x 10, and the bandit labels (models/policy.py) use the
# same unit, so a Q of 0.5 means "expected to net 5 bp".
BP_PER_REWARD = 10.0
ACTIONS = (Side.BUY, Side.SELL)  # action index -> side
RECENT_ROWS = 5  # newest rows of each fast time block in the decision view
VIEW_RECENT = ("eth_ticks_1s", "eth_ohlcv_1s", "eth_ohlcv_1m", "btc_ohlcv_1m")
VIEW_WHOLE = ("trailing_returns", "market_regime", "position")
DEEP_LR_SCALE = 0.1  # the MLP part learns at this fraction of the linear part's rate


def decision_view(schema: FeatureSchema = SCHEMA) -> np.ndarray:
    """Indices into the flat state of the features the Q-network reads (module docstring)."""
    offsets = schema.offsets()
    parts = []
    for name in VIEW_RECENT:
        start, end = offsets[name]
        rows = np.arange(start, end).reshape(schema.block(name).shape)
        parts.append(rows[-RECENT_ROWS:].ravel())
    parts += [np.arange(*offsets[name]) for name in VIEW_WHOLE]
    return np.concatenate(parts)


class DuelingQNet(nn.Module):
    """Q(s, a) = W z + b + V(z) + A(z, a) - mean_a A(z, a) with z the standardised view of
    s (Wang et al. 2016 for the dueling MLP). A network on the schema's state reads the
    decision view; one of another width (tests, small problems) reads all its inputs."""

    def __init__(self, input_dim: int = SCHEMA.dim, hidden: int = 64, n_actions: int = 2) -> None:
        super().__init__()
        self.input_dim, self.hidden, self.n_actions = input_dim, hidden, n_actions
        view = decision_view() if input_dim == SCHEMA.dim else np.arange(input_dim)
        self.register_buffer("view", torch.from_numpy(view.astype(np.int64)))
        self.norm = RunningNorm(len(view))
        self.wide = nn.Linear(len(view), n_actions)
        nn.init.zeros_(self.wide.weight)
        nn.init.zeros_(self.wide.bias)
        self.body = nn.Sequential(nn.Linear(len(view), hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        half = hidden // 2
        self.value = nn.Sequential(nn.Linear(hidden, half), nn.ReLU(), nn.Linear(half, 1))
        self.advantage = nn.Sequential(nn.Linear(hidden, half), nn.ReLU(), nn.Linear(half, n_actions))

    def observe(self, states: torch.Tensor) -> None:
        """Fold a batch of training states (B, input_dim) into the input scaling."""
        self.norm.observe(states.index_select(1, self.view))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.norm(x.index_select(1, self.view))
        h = self.body(z)
        adv = self.advantage(h)
        return self.wide(z) + self.value(h) + adv - adv.mean(dim=1, keepdim=True)

    def parameter_groups(self, lr: float) -> list[dict]:
        """Adam groups: the linear part at `lr`, the MLP at DEEP_LR_SCALE x `lr`."""
        wide = list(self.wide.parameters())
        wide_ids = {id(p) for p in wide}
        deep = [p for p in self.parameters() if id(p) not in wide_ids]
        return [{"params": wide, "lr": lr}, {"params": deep, "lr": lr * DEEP_LR_SCALE}]


def inference_net(net: DuelingQNet) -> DuelingQNet:
    """A frozen copy of a trained Q-network for inference."""
    copy = DuelingQNet(net.input_dim, net.hidden, net.n_actions)
    copy = copy.to(next(net.parameters()).device).eval().requires_grad_(False)
    copy.load_state_dict(net.state_dict())
    return copy


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
        hidden: int = 64,
        device: torch.device | str = "cpu",
        lr: float = 3e-5,
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
