"""EnhancedCNN (shapes, masked multi-horizon loss, learns a synthetic trend task) and the
COB RL model (learns an order-book imbalance -> direction rule)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.features.schema import CNN_HIDDEN, CNN_PREDICTIONS, SCHEMA
from models.cnn import DOWN, FLAT, UP, CNNLearner, EnhancedCNN, TemporalConv, cnn_loss, labels_to_arrays
from models.cob_rl import COBRLAgent, cob_decide
from models.dqn import BUY, SELL


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_cnn_shapes_probabilities_and_size() -> None:
    net = EnhancedCNN().eval()
    assert sum(p.numel() for p in net.parameters()) > 1_000_000
    with torch.inference_mode():
        hidden, preds = net(torch.randn(3, SCHEMA.market_channels, SCHEMA.market_steps))
    assert hidden.shape == (3, CNN_HIDDEN) and preds.shape == (3, CNN_PREDICTIONS)
    probs = preds[:, :12].view(3, 4, 3)
    torch.testing.assert_close(probs.sum(2), torch.ones(3, 4))


@pytest.mark.parametrize(("kernel", "stride", "padding"), [(3, 1, 1), (3, 2, 1), (8, 4, 2)])
def test_temporal_conv_is_a_convolution_over_time(kernel: int, stride: int, padding: int) -> None:
    conv = TemporalConv(5, 7, kernel, stride, padding)
    x = torch.randn(2, 30, 5)  # (batch, time, channels)
    weight = conv.proj.weight.view(7, 5, kernel)
    expected = F.conv1d(x.transpose(1, 2), weight, conv.proj.bias, stride=stride, padding=padding).transpose(1, 2)
    torch.testing.assert_close(conv(x), expected)


def test_labels_parse_with_missing_horizons_masked() -> None:
    classes, returns = labels_to_arrays({"1m": {"class": UP, "return": 0.4}, "15m": {"class": FLAT}, "5m": None})
    np.testing.assert_array_equal(classes, [UP, -1, FLAT, -1])
    assert returns[0] == pytest.approx(0.4) and np.isnan(returns[1:]).all()
    with pytest.raises(ValueError):
        labels_to_arrays({"1m": {"class": 3}})


def test_cnn_loss_ignores_unlabelled_samples_and_scales_with_weight() -> None:
    net = EnhancedCNN()
    x = torch.randn(2, SCHEMA.market_channels, SCHEMA.market_steps)
    c = torch.tensor([[UP, -1, DOWN, -1], [-1, -1, -1, -1]])
    r = torch.tensor([[0.5, np.nan, np.nan, np.nan], [np.nan] * 4])
    both = cnn_loss(net, x, c, r, torch.tensor([1.0, 1.0]))
    alone = cnn_loss(net, x[:1], c[:1], r[:1], torch.tensor([1.0]))
    half = cnn_loss(net, x[:1], c[:1], r[:1], torch.tensor([0.5]))
    torch.testing.assert_close(both, alone)
    torch.testing.assert_close(half, 0.5 * alone)


def _trend_task(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise with a linear drift on one channel over the last 100 steps: the drift's sign
    is the class (down/flat/up) at every horizon, its size the return."""
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, SCHEMA.market_channels, SCHEMA.market_steps)).astype(np.float32) * 0.5
    ramp = np.linspace(0, 1, 100, dtype=np.float32)
    x[:, 3, -100:] += (y[:, None] - 1) * 2.0 * ramp
    classes = np.repeat(y[:, None], 4, axis=1)
    returns = np.repeat((y[:, None] - 1) * 0.5, 4, axis=1).astype(np.float32)
    return x, classes, returns


def test_cnn_loss_falls_on_a_learnable_sequence_task() -> None:
    rng = np.random.default_rng(0)
    x, c, r = _trend_task(160, rng)
    learner = CNNLearner()
    losses = []
    for _ in range(25):
        idx = rng.choice(128, 32, replace=False)
        losses.append(learner.train_step(x[idx], c[idx], r[idx], np.ones(32, np.float32)))
    assert np.mean(losses[-5:]) < 0.4 * np.mean(losses[:5])
    with torch.inference_mode():
        _, preds = learner.net.eval()(torch.from_numpy(x[128:]))
    predicted = preds[:, :3].argmax(1).numpy()  # 1m horizon
    assert (predicted == c[128:, 0]).mean() > 0.8


def test_cob_learns_imbalance_to_direction() -> None:
    """Feature 16 is the L1 queue imbalance (engine/features/cob.py); the price moves its way,
    so BUY is the side that wins when it is positive and SELL when it is negative (the bandit
target: which side won, whoever acted)."""
    rng = np.random.default_rng(0)
    agent = COBRLAgent()
    for _ in range(250):
        s = rng.standard_normal((64, 48)).astype(np.float32)
        move = np.sign(s[:, 16])
        winners = np.where(move > 0, BUY, SELL)
        agent.train_step(s, winners, move.astype(np.float32), np.ones(64, np.float32))
    test = rng.standard_normal((300, 48)).astype(np.float32)
    decisions = [cob_decide(agent.net, s, agent.device) for s in test]
    acc = np.mean([d[0] == (BUY if s[16] > 0 else SELL) for d, s in zip(decisions, test)])
    assert acc > 0.9
    strong = [d[2] for d, s in zip(decisions, test) if abs(s[16]) > 1.5]
    assert np.mean(strong) > 0.8  # confident where the signal is strong


def test_cob_step_on_non_finite_input_is_skipped() -> None:
    agent = COBRLAgent()
    before = {k: v.clone() for k, v in agent.net.state_dict().items()}
    s = np.full((1, 48), np.nan, np.float32)
    assert np.isnan(agent.train_step(s, np.array([BUY]), np.array([1.0], np.float32), np.ones(1, np.float32)))
    assert all(torch.equal(v, before[k]) for k, v in agent.net.state_dict().items())
