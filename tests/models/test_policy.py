"""The training policy: a closed trade becomes the CNN's class label at the horizon nearest
its holding time, a DQN transition with the trade's strata and a COB step, for exactly the
models that contributed; restoring the DQN's trades stores them without training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from engine.core.enums import ModelName, Side
from engine.decision.ports import LabelledState, StateArrays, TradeExperience
from engine.features.schema import BAR_FEATURES, COB_FEATURES, SCHEMA
from models.cnn import DOWN, FLAT, HORIZONS, UP, CNNLearner, cnn_loss, labels_to_arrays
from models.cob_rl import COBRLAgent
from models.dqn import DQNAgent
from models.policy import TrainingPolicy, horizon_index, outcome_labels
from models.stats import TrainingStats

CNN, DQN, COB = ModelName.CNN, ModelName.DQN, ModelName.COB_RL

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize(("hold_s", "horizon"), [(None, "15m"), (0.0, "1m"), (100.0, "1m"), (240.0, "5m"),
                                                 (600.0, "15m"), (2000.0, "60m"), (86400.0, "60m")])
def test_horizon_is_the_nearest_to_the_holding_time_on_a_log_scale(hold_s, horizon) -> None:
    assert horizon_index(hold_s) == HORIZONS.index(horizon)


@pytest.mark.parametrize(("side", "move_bp", "label"), [(Side.BUY, 9.0, UP), (Side.SELL, 9.0, UP),
                                                        (Side.BUY, -7.0, DOWN), (Side.SELL, -7.0, DOWN),
                                                        (Side.SELL, 3.0, FLAT), (Side.BUY, -5.9, FLAT)])
def test_a_trade_labels_its_move_by_the_one_outcome_rule(side, move_bp, label) -> None:
    """Up / flat / down by the price move against the round-trip cost (6 bp here), whichever
    side the trade took: the same rule as the horizon labels."""
    experience = TradeExperience(state=None, side=side, reward=0.5, weights={}, move_bp=move_bp, cost_bp=6.0)
    classes, returns = outcome_labels(experience, 240.0)
    expected = np.full(len(HORIZONS), -1)
    expected[HORIZONS.index("5m")] = label
    np.testing.assert_array_equal(classes, expected)
    assert np.isnan(returns).all(), "a trade's reward is not the market's return: masked"


def _state(rng: np.random.Generator) -> StateArrays:
    return StateArrays(rng.standard_normal(SCHEMA.dim).astype(np.float32),
                       rng.standard_normal((SCHEMA.market_channels, SCHEMA.market_steps)).astype(np.float32),
                       rng.standard_normal(COB_FEATURES).astype(np.float32))


@pytest.fixture
def policy() -> TrainingPolicy:
    dqn = DQNAgent(memory_capacity=16, learn_start=2, rng=np.random.default_rng(0))
    return TrainingPolicy(CNNLearner(), dqn, COBRLAgent(), TrainingStats("cpu"), dqn_batch_size=2)


def test_only_contributing_models_train_in_model_order(policy) -> None:
    rng = np.random.default_rng(0)
    trade = TradeExperience(_state(rng), Side.SELL, -0.5, {COB: 0.3, CNN: 0.7}, pnl=-2.0, hold_s=50.0)
    events = policy.train_on_outcome(trade)
    assert [(e["model"], e["weight"], e["status"]) for e in events] == [("cnn", 0.7, "trained"),
                                                                       ("cob_rl", 0.3, "trained")]
    assert (policy.cnn.updates, policy.dqn.updates, policy.cob.updates) == (1, 0, 1)
    assert len(policy.dqn.memory) == 0, "the DQN did not contribute: nothing stored"
    assert policy.stats.versions == {CNN: 1, DQN: 0, COB: 1}


def test_the_dqn_stores_a_terminal_transition_with_the_trades_strata(policy) -> None:
    rng = np.random.default_rng(1)
    first = policy.train_on_outcome(TradeExperience(_state(rng), Side.SELL, 0.25, {DQN: 0.5}, clear_move=True))
    assert [e["status"] for e in first] == ["warming_up"]
    memory = policy.dqn.memory
    assert memory.actions[0] == 1 and memory.rewards[0] == 0.25 and memory.weights[0] == 0.5
    assert memory.dones[0] == 1.0 and memory.strata["clear_move"][0] and memory.strata["positive"][0]
    assert not memory.strata["extrema"][0]
    second = policy.train_on_outcome(TradeExperience(_state(rng), Side.BUY, -1.0, {DQN: 1.0}, extrema=True))
    assert [e["status"] for e in second] == ["trained"] and policy.dqn.updates == 1
    assert memory.strata["extrema"][1] and not memory.strata["positive"][1]


def test_a_non_finite_trade_is_a_nan_skip_for_each_contributing_model(policy) -> None:
    rng = np.random.default_rng(2)
    trade = TradeExperience(_state(rng), Side.BUY, float("nan"), {CNN: 0.5, DQN: 0.5})
    assert [e["status"] for e in policy.train_on_outcome(trade)] == ["skipped_nan"] * 2
    assert policy.cnn.updates == 0 and len(policy.dqn.memory) == 0


def test_restoring_stores_the_dqn_weight_without_training(policy) -> None:
    rng = np.random.default_rng(3)
    bad = dataclasses.replace(_state(rng), vector=np.full(SCHEMA.dim, np.inf, np.float32))
    restored = [TradeExperience(_state(rng), Side.BUY, 1.0, {DQN: 0.4}, extrema=True),
                TradeExperience(bad, Side.SELL, 1.0, {DQN: 0.4}),
                TradeExperience(_state(rng), Side.SELL, -1.0, {DQN: 0.6})]
    assert policy.restore_dqn(restored) == 2
    memory = policy.dqn.memory
    assert len(memory) == 2 and list(memory.actions[:2]) == [0, 1] and list(memory.weights[:2]) == [0.4, 0.6]
    assert memory.strata["extrema"][0] and not memory.strata["extrema"][1]
    assert policy.dqn.updates == 0 and policy.stats.versions[DQN] == 0


def test_malformed_state_is_an_error_not_a_skip(policy) -> None:
    rng = np.random.default_rng(4)
    short = dataclasses.replace(_state(rng), cob=np.zeros(COB_FEATURES - 1, np.float32))
    with pytest.raises(ValueError, match="cob must have shape"):
        policy.train_on_outcome(TradeExperience(short, Side.BUY, 1.0, {COB: 1.0}))


def test_a_label_batch_is_one_cnn_step_whose_loss_is_the_mean_of_its_samples_losses(policy) -> None:
    """Labels that mature together train in one step; each sample keeps its own loss term
    (its known horizons only), so the batch's loss is the mean of what each label alone
    would have cost on the same weights."""
    rng = np.random.default_rng(5)
    batch = [
        LabelledState(_state(rng).market_tensor, {"1m": {"class": UP, "return": 0.2}, "5m": None}),
        LabelledState(_state(rng).market_tensor, {"1m": {"class": DOWN, "return": -0.1},
                                                  "15m": {"class": FLAT, "return": 0.01}}),
        LabelledState(_state(rng).market_tensor, {"5m": {"class": FLAT, "return": 0.0}}, weight=0.5),
    ]
    net = policy.cnn.net
    with torch.no_grad():
        alone = []
        for sample in batch:
            classes, returns = labels_to_arrays(sample.labels)
            alone.append(float(cnn_loss(net, torch.from_numpy(sample.market_tensor)[None],
                                        torch.from_numpy(classes)[None], torch.from_numpy(returns)[None],
                                        torch.tensor([sample.weight]))))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    [event] = policy.train_on_labels(batch)
    assert event["model"] == "cnn" and event["status"] == "trained" and event["model_version"] == 1
    assert event["loss"] == pytest.approx(np.mean(alone), rel=1e-5)
    assert event["weight"] == pytest.approx(np.mean([s.weight for s in batch]))
    assert policy.stats.metrics()["cnn"]["steps"] == 1, "one step for the whole batch"
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items()), "the step was applied"
    assert policy.train_on_labels([]) == [] and policy.stats.versions[CNN] == 1


def test_labels_teach_the_dqn_both_sides_of_a_planted_signal() -> None:
    """Every labelled decision teaches the DQN what BUY and SELL would have netted, whichever
    was taken: with one state feature that predicts the move (as BTC's last bar predicts ETH's
    next move on the lead-lag SIM) beside eight noise features, out-of-sample Q(BUY) - Q(SELL)
    ranks states by it."""
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    dqn = DQNAgent(memory_capacity=4000, learn_start=32, rng=np.random.default_rng(0))
    policy = TrainingPolicy(CNNLearner(), dqn, COBRLAgent(), TrainingStats("cpu"), dqn_batch_size=32)
    _, end = SCHEMA.offsets()["btc_ohlcv_1m"]
    start = end - BAR_FEATURES + 7  # the newest BTC bar's return

    def sample() -> tuple[StateArrays, float]:
        state = _state(rng)
        state.vector[:] = 0.0  # the newest ETH 1m bar as noise, the rest masked
        noise_start = SCHEMA.offsets()["eth_ohlcv_1m"][1] - BAR_FEATURES
        state.vector[noise_start:noise_start + BAR_FEATURES] = rng.standard_normal(BAR_FEATURES)
        signal = float(rng.standard_normal())
        state.vector[start] = signal
        return state, 12.0 * signal + 6.0 * float(rng.standard_normal())

    for _ in range(120):
        batch = [sample() for _ in range(8)]
        events = policy.train_on_labels([LabelledState(s.market_tensor, {}, state=s, move_bp=m, cost_bp=4.0)
                                         for s, m in batch])
        assert [e["model"] for e in events] == ["cnn", "dqn", "cob_rl"]
    held_out = [sample() for _ in range(200)]
    vectors = np.stack([s.vector for s, _ in held_out])
    with torch.no_grad():
        q = dqn.online(torch.from_numpy(vectors)).numpy()
    edge = q[:, 0] - q[:, 1]
    signals = [s.vector[start] for s, _ in held_out]
    assert np.corrcoef(edge, signals)[0, 1] > 0.3  # untrained: ~0 ± 0.07 at n = 200
    view_index = int(np.flatnonzero(dqn.online.view.numpy() == start)[0])
    assert dqn.online.norm.count[view_index] == 960, "the input scaling was fitted on the training states only"
