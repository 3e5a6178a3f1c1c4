"""The learner base: the update count is of applied steps only, and all three models are
built on it (the DQN's online network is its `net`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from models.cnn import CNNLearner
from models.cob_rl import COBRLAgent
from models.dqn import DQNAgent
from models.learner import NetLearner

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_only_applied_steps_count_and_skipped_ones_leave_the_weights() -> None:
    learner = NetLearner(nn.Linear(3, 1), lr=0.1, device="cpu")
    x = learner.tensor(np.ones((2, 3), np.float32))
    assert math.isfinite(learner.step(lambda: learner.net(x).pow(2).mean(), x)) and learner.updates == 1
    before = {k: v.clone() for k, v in learner.net.state_dict().items()}
    bad = learner.tensor(np.full((2, 3), np.nan, np.float32))
    assert math.isnan(learner.step(lambda: learner.net(bad).mean(), bad))  # refused input
    assert math.isnan(learner.step(lambda: learner.net(x).mean() * float("nan"), x))  # non-finite loss
    assert learner.updates == 1
    assert all(torch.equal(v, before[k]) for k, v in learner.net.state_dict().items())


def test_every_model_is_a_net_learner_with_its_optimizer_on_its_net() -> None:
    dqn = DQNAgent(input_dim=8, memory_capacity=4)
    for learner in (CNNLearner(), COBRLAgent(), dqn):
        assert isinstance(learner, NetLearner) and learner.updates == 0
        params = {id(p) for group in learner.optimizer.param_groups for p in group["params"]}
        assert params == {id(p) for p in learner.net.parameters()}
    assert dqn.online is dqn.net and dqn.target is not dqn.net
