"""DQN agent: learns a contextual bandit, double-DQN targets use the online argmax,
contribution weights scale the loss (not the reward), non-finite batches keep the weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from models.dqn import BUY, SELL, DQNAgent, double_dqn_targets
from models.optim import GRAD_CLIP, guarded_step
from models.replay_memory import Batch


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _agent(dim: int = 8, **kw) -> DQNAgent:
    kw.setdefault("hidden", 64)
    return DQNAgent(dim, lr=1e-3, memory_capacity=2000, rng=np.random.default_rng(0), **kw)


def test_learns_a_contextual_bandit() -> None:
    """The right action depends on the state: BUY pays +1 when s[0] + s[1] > 0, SELL
    otherwise, the wrong one -1. Random exploration, terminal transitions."""
    rng = np.random.default_rng(0)
    agent = _agent()

    def right(s: np.ndarray) -> int:
        return BUY if s[0] + s[1] > 0 else SELL

    for _ in range(500):
        s = rng.standard_normal(8).astype(np.float32)
        a = int(rng.integers(2))
        agent.remember(s, a, 1.0 if a == right(s) else -1.0, None, True)
        agent.replay(32)
    test = rng.standard_normal((400, 8)).astype(np.float32)
    acc = np.mean([agent.act(s)[0] == right(s) for s in test])
    assert acc > 0.9
    action, q, conf = agent.act(test[0])
    assert q.shape == (2,) and 0.5 <= conf <= 1.0
    assert conf == pytest.approx(float(torch.softmax(torch.tensor(q), 0)[action]))


def _linear(weight: list[list[float]]) -> nn.Linear:
    lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(weight))
    return lin


def test_double_dqn_target_uses_online_argmax_and_target_value() -> None:
    online = _linear([[1.0, 0.0], [0.0, 1.0]])  # Q_online(s') = s'
    target = _linear([[0.0, 5.0], [0.0, 3.0]])
    s2 = torch.tensor([[1.0, 2.0], [1.0, 2.0]])  # online prefers action 1; target prefers 0 (10 vs 6)
    y = double_dqn_targets(online, target, torch.tensor([0.5, 0.5]), s2, torch.tensor([0.0, 1.0]), gamma=0.9)
    assert y[0].item() == pytest.approx(0.5 + 0.9 * 6.0)  # Q_target(s', argmax online) = 6, not max 10
    assert y[1].item() == pytest.approx(0.5)  # terminal row: the reward alone


def test_agent_update_uses_the_double_dqn_target() -> None:
    agent = _agent(dim=2)
    agent.net = _linear([[1.0, 0.0], [0.0, 1.0]])  # the online network
    agent.target = _linear([[0.0, 5.0], [0.0, 3.0]])
    batch = _batch(states=[[3.0, 1.0]], actions=[0], rewards=[0.5], next_states=[[1.0, 2.0]], dones=[0.0])
    _, td = agent.learn(batch)
    q = 3.0  # Q_online(s)[0]
    assert td[0] == pytest.approx(abs(q - (0.5 + agent.gamma * 6.0)), rel=1e-5)


def _batch(states, actions, rewards, next_states, dones, weights=None) -> Batch:
    n = len(actions)
    return Batch(
        indices=np.arange(n), states=np.array(states, np.float32), actions=np.array(actions, np.int64),
        rewards=np.array(rewards, np.float32), next_states=np.array(next_states, np.float32),
        dones=np.array(dones, np.float32), weights=np.array(weights or [1.0] * n, np.float32),
        is_weights=np.ones(n, np.float32),
    )


def test_contribution_is_a_loss_weight_not_a_reward_scale() -> None:
    agent = _agent()
    s = np.ones(8, np.float32)
    agent.remember(s, BUY, 2.0, None, True, weight=0.25)
    assert agent.memory.rewards[0] == 2.0 and agent.memory.weights[0] == 0.25
    assert agent.memory.strata["positive"][0]

    losses = []
    for w in (1.0, 0.5):
        torch.manual_seed(3)
        a = _agent()
        b = _batch([s, -s], [BUY, SELL], [2.0, -1.0], [s, s], [1.0, 1.0], weights=[w, w])
        losses.append(a.learn(b)[0])
    assert losses[1] == pytest.approx(0.5 * losses[0], rel=1e-5)


def test_non_finite_batch_keeps_weights() -> None:
    agent = _agent()
    before = {k: v.clone() for k, v in agent.online.state_dict().items()}
    s = np.ones(8, np.float32)
    bad = _batch([s, np.full(8, np.nan, np.float32)], [BUY, SELL], [1.0, 1.0], [s, s], [1.0, 1.0])
    loss, _ = agent.learn(bad)
    assert math.isnan(loss) and agent.updates == 0
    for k, v in agent.online.state_dict().items():
        assert torch.equal(v, before[k])


def test_guarded_step_skips_a_nan_loss_without_touching_weights_or_optimizer() -> None:
    net = nn.Linear(4, 1)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    x = torch.ones(2, 4)
    assert math.isfinite(guarded_step(net, opt, lambda: net(x).pow(2).mean()))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    step_count = opt.state[net.weight]["step"].clone()
    assert math.isnan(guarded_step(net, opt, lambda: net(x).mean() * float("nan")))
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())
    assert torch.equal(opt.state[net.weight]["step"], step_count)


@pytest.mark.parametrize("scale", [1e-3, 1e4])
def test_guarded_step_clips_the_gradient_norm_only_when_above_the_limit(scale: float) -> None:
    net = nn.Linear(4, 1, bias=False)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)  # the step equals minus the used gradient
    x = torch.full((1, 4), scale)
    raw_norm = float(x.norm())  # d(net(x))/dw = x
    before = net.weight.detach().clone()
    guarded_step(net, opt, lambda: net(x).sum())
    step_norm = float((before - net.weight.detach()).norm())
    assert step_norm == pytest.approx(min(raw_norm, GRAD_CLIP), rel=1e-5)


def test_remember_refuses_non_finite_or_malformed_transitions() -> None:
    agent = _agent()
    with pytest.raises(ValueError):
        agent.remember(np.full(8, np.inf, np.float32), BUY, 1.0, None, True)
    with pytest.raises(ValueError):
        agent.remember(np.zeros(7, np.float32), BUY, 1.0, None, True)
    with pytest.raises(ValueError):
        agent.remember(np.zeros(8, np.float32), BUY, float("nan"), None, True)
    assert len(agent.memory) == 0


def test_replay_waits_for_a_full_batch() -> None:
    agent = _agent()
    for i in range(31):
        agent.remember(np.full(8, i / 31, np.float32), i % 2, 0.1, None, True)
        assert agent.replay(32) is None
    agent.remember(np.zeros(8, np.float32), BUY, 0.1, None, True)
    assert isinstance(agent.replay(32), float)
