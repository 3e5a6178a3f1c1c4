"""The training policy: how a closed trade, a matured label and a restored trade become
training steps of the three models.

A closed trade (`TradeExperience`) trains each model with contribution weight w > 0, with
w as a per-sample loss weight, so a model that contributed little learns less from the
trade instead of learning a shrunken target:
  - CNN: the direction the market took, read from the trade (a buy with reward > 0 or a
    sell with reward < 0 means "up", the reverse "down", reward 0 "flat"), at the horizon
    nearest the holding time (15m when unknown). The return head is masked: the trade's
    reward is not the market's return over that horizon.
  - DQN: the entry state, action and reward are stored as a terminal transition (a closed
    trade is a one-decision episode, so no next state enters the target), then one
    prioritized replay step once the memory holds a batch ("warming_up" until then). The
    trade's `extrema` / `clear_move` flags pick its replay strata.
  - COB: one actor-critic step on the entry order-book features.
A trade whose reward or state is not finite trains nothing: each contributing model
records a NaN skip. The DQN's copy of the entry state gets the current CNN's features
(models/inference.py `with_cnn_features`, as `predict` fills them) before the CNN learns
from the trade.

After a restart the ledger's earlier trades are stored back into the DQN's replay memory
(`restore_dqn`) without training on them again: the weights come from the checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch

from engine.core.enums import MODELS, ModelName, Side
from engine.decision.ports import LabelledState, StateArrays, TradeExperience, TrainingEvent
from models.cnn import DOWN, FLAT, HORIZON_SECONDS, UP, CNNLearner, labels_to_arrays
from models.cob_rl import COBRLAgent
from models.dqn import ACTIONS, DQNAgent
from models.inference import shaped, shaped_state, with_cnn_features
from models.stats import TrainingStats, log_trade_trained

UNKNOWN_HOLD_S = 900  # the horizon a trade of unknown holding time is labelled at


class TrainingPolicy:
    """Turns experience into steps of `cnn`, `dqn` and `cob` and records each in `stats`.
    Runs on the trainer's worker thread only."""

    def __init__(self, cnn: CNNLearner, dqn: DQNAgent, cob: COBRLAgent, stats: TrainingStats,
                 dqn_batch_size: int) -> None:
        self.cnn, self.dqn, self.cob = cnn, dqn, cob
        self.stats = stats
        self.dqn_batch_size = dqn_batch_size

    def train_on_outcome(self, experience: TradeExperience, remember: bool = True) -> list[TrainingEvent]:
        """Train every model that contributed to the trade; one event per such model, in
        MODELS order. `remember=False` (retraining a trade a checkpoint lacks) leaves the
        DQN's replay memory alone: the refill from the ledger already put the trade back."""
        state = shaped_state(experience.state)
        action = ACTIONS.index(experience.side)
        reward = float(experience.reward)
        weights = {m: float(experience.weights.get(m, 0.0)) for m in MODELS}
        inputs_ok = math.isfinite(reward) and _finite(state)
        # The DQN's state gets its CNN features before the CNN learns from this outcome.
        dqn_vector = self._dqn_vector(state) if inputs_ok and weights[ModelName.DQN] > 0 else None
        classes, returns = outcome_labels(experience.side, reward, experience.hold_s)

        def dqn_step(w: float) -> float | None:
            if remember:
                self._remember(dqn_vector, experience, w)
            return self.dqn.replay(self.dqn_batch_size)

        steps = {
            ModelName.CNN: lambda w: self.cnn.train_step(state.market_tensor[None], classes[None], returns[None],
                                                         _column(w)),
            ModelName.DQN: dqn_step,
            ModelName.COB_RL: lambda w: self.cob.train_step(state.cob[None], np.array([action]), _column(reward),
                                                            _column(w)),
        }
        events = []
        for name in MODELS:
            w = weights[name]
            if w <= 0:
                continue
            t0 = time.perf_counter()
            loss = steps[name](w) if inputs_ok else math.nan
            events.append(self.stats.record(name, w, loss, t0, warmup=(len(self.dqn.memory), self.dqn_batch_size)))
        log_trade_trained(float(experience.pnl), reward)
        return events

    def train_on_labels(self, batch: Sequence[LabelledState]) -> list[TrainingEvent]:
        """One CNN step on a batch of decisions' matured multi-horizon labels (models/cnn.py
        format); one event for the step, weighted by the batch's mean weight.

        Why one step per batch: labels can mature faster than the CNN steps through them one
        at a time (a replay at max speed, a slow machine); a batch keeps each sample's loss
        term as it was (w x (CE over its known horizons + Huber over its known returns)) and
        averages them over the batch, so the step size does not grow with the batch."""
        if not batch:
            return []
        t0 = time.perf_counter()
        arrays = [labels_to_arrays(sample.labels) for sample in batch]
        market = np.stack([shaped(sample.market_tensor, "market_tensor") for sample in batch])
        classes = np.stack([c for c, _ in arrays])
        returns = np.stack([r for _, r in arrays])
        weights = np.array([sample.weight for sample in batch], np.float32)
        loss = self.cnn.train_step(market, classes, returns, weights)
        return [self.stats.record(ModelName.CNN, float(weights.mean()), loss, t0, quiet=True)]

    def restore_dqn(self, experiences: list[TradeExperience]) -> int:
        """Store closed trades the DQN held before a restart back into its replay memory,
        with their DQN weight and strata, without training; returns how many were stored."""
        stored = 0
        for e in experiences:
            state = shaped_state(e.state)
            if not (math.isfinite(e.reward) and _finite(state)):
                continue  # it was a NaN skip when it closed; it was never in the memory
            self._remember(self._dqn_vector(state), e, float(e.weights[ModelName.DQN]))
            stored += 1
        return stored

    def _remember(self, vector: np.ndarray, e: TradeExperience, weight: float) -> None:
        strata = tuple(s for s, flag in (("extrema", e.extrema), ("clear_move", e.clear_move)) if flag)
        self.dqn.remember(vector, ACTIONS.index(e.side), float(e.reward), None, True, weight=weight, strata=strata)

    def _dqn_vector(self, state: StateArrays) -> np.ndarray:
        """The state vector with the current (training) CNN's features in it."""
        device = self.cnn.device
        with torch.inference_mode():
            hidden, preds = self.cnn.net(torch.from_numpy(state.market_tensor).to(device)[None])
            v = torch.from_numpy(state.vector).to(device)[None]
            return with_cnn_features(v, hidden, preds)[0].float().cpu().numpy()


def outcome_labels(side: Side, reward: float, hold_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The CNN label a closed trade gives: (classes, returns) of shape (horizons,), the
    realised direction at `horizon_index(hold_s)`, every other class -1 and every return
    NaN (unknown, masked out of the loss)."""
    classes = np.full(len(HORIZON_SECONDS), -1, dtype=np.int64)
    returns = np.full(len(HORIZON_SECONDS), np.nan, dtype=np.float32)
    went_up = (reward > 0) == (side == Side.BUY)
    classes[horizon_index(hold_s)] = FLAT if reward == 0 else (UP if went_up else DOWN)
    return classes, returns


def horizon_index(hold_s: float | None) -> int:
    """The CNN horizon nearest the holding time on a log scale (`UNKNOWN_HOLD_S`'s when
    unknown): a 4-minute trade says more about the 5m head than the 1m one."""
    if hold_s is None:
        return HORIZON_SECONDS.index(UNKNOWN_HOLD_S)
    return int(np.argmin([abs(math.log(max(hold_s, 1.0) / h)) for h in HORIZON_SECONDS]))


def _finite(state: StateArrays) -> bool:
    return all(np.isfinite(a).all() for a in (state.vector, state.market_tensor, state.cob))


def _column(x: float) -> np.ndarray:
    """A batch of one float32 (a reward or a weight)."""
    return np.array([x], np.float32)
