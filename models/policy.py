"""The training policy: how a closed trade, a matured label and a restored trade become
training steps of the three models.

One outcome definition runs through all of it: a move of the price over a horizon is "up"
when it beats the round-trip cost, "down" when it loses more than the cost, "flat"
otherwise (engine/learning/horizons.py `label_of`). BUY would have netted move - cost and
SELL -move - cost, whichever side was taken.

A matured label batch (`train_on_labels`), every few seconds:
  - CNN: the samples' multi-horizon classes and returns wait until `cnn_labels_per_step`
    of them have come (`[models] cnn_labels_per_step`, 8), then one step trains on them,
    rehearsed with older labelled samples up to a batch of LABEL_BATCH
    (models/label_memory.py). Why: a CNN step costs the same for 1 new sample and 31
    rehearsed as for 8 new and 24 rehearsed, and on 1m bars every decision is labelled, so
    one step per label was ~60 % of a replay's CPU (py-spy, 4 h of the Bybit month). The
    CNN's learning from a label trails it by at most 7 more labels; deterministic, like the
    rest. Samples still waiting when a session ends are not trained (at most 7).
  - DQN: both sides of every decision that has its state and trade-horizon move are stored
    as terminal transitions with reward = net return / BP_PER_REWARD, then one prioritized
    replay step per LABELS_PER_REPLAY labels. The DQN is therefore a contextual bandit: its
    Q-values are each side's expected net return over the trade horizon (HOLD is 0 by
    definition). Every transition is terminal, so gamma and the target network never take
    part; that is deliberate (a per-decision bandit learns from every labelled decision, an
    episode per trade from a few hundred), and said so in the docs.
  - COB: one bandit step toward the side that won, on the decisions that had a book,
    rehearsed the same way.
A closed trade (`train_on_outcome`) trains each model with contribution weight w > 0, as a
per-sample loss weight:
  - CNN: the trade's move by the same rule, at the horizon nearest the holding time.
  - DQN: the entry state, the side taken and the reward (the configured preset; its main
    term, the net return in percent x 10, is in the same unit of 10 bp) as a terminal
    transition, then one replay step.
  - COB: the side that won the trade's move.
A trade whose reward or state is not finite trains nothing: each contributing model
records a NaN skip. The DQN reads its decision view of the state (models/dqn.py), which
holds none of the CNN's outputs, so its inputs do not change as the CNN trains.

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
from models.dqn import ACTIONS, BP_PER_REWARD, BUY, SELL, DQNAgent
from models.inference import shaped, shaped_state
from models.label_memory import LabelMemory
from models.stats import TrainingStats, log_trade_trained

UNKNOWN_HOLD_S = 900  # the horizon a trade of unknown holding time is labelled at
LABEL_MEMORY = 1024   # labelled samples kept for rehearsal (~69 MB of CNN market tensors)
LABEL_BATCH = 32      # a label step trains on the new samples plus older ones, up to this
LABELS_PER_REPLAY = 1  # matured labels (two transitions each) per DQN replay step: the rate
# the decision view's learning rate was chosen at (models/dqn.py)


class TrainingPolicy:
    """Turns experience into steps of `cnn`, `dqn` and `cob` and records each in `stats`.
    Runs on the trainer's worker thread only."""

    def __init__(self, cnn: CNNLearner, dqn: DQNAgent, cob: COBRLAgent, stats: TrainingStats,
                 dqn_batch_size: int, seed: int | None = None, cnn_labels_per_step: int = 1) -> None:
        self.cnn, self.dqn, self.cob = cnn, dqn, cob
        self.stats = stats
        self.dqn_batch_size = dqn_batch_size
        rng = np.random.default_rng(seed)
        self.cnn_memory = LabelMemory(LABEL_MEMORY, rng)  # rehearsal (models/label_memory.py)
        self.cob_memory = LabelMemory(LABEL_MEMORY, rng)
        self._labels_pending = 0  # labels stored since the last label replay step
        self.cnn_labels_per_step = cnn_labels_per_step
        self._cnn_waiting: list[tuple[np.ndarray, ...]] = []  # label samples for the next CNN step
        self.cnn_generation = 0  # bumped whenever the CNN's weights or input scaling may have changed

    def train_on_outcome(self, experience: TradeExperience, remember: bool = True) -> list[TrainingEvent]:
        """Train every model that contributed to the trade; one event per such model, in
        MODELS order. `remember=False` (retraining a trade a checkpoint lacks) leaves the
        DQN's replay memory alone: the refill from the ledger already put the trade back."""
        state = shaped_state(experience.state)
        reward = float(experience.reward)
        weights = {m: float(experience.weights.get(m, 0.0)) for m in MODELS}
        inputs_ok = math.isfinite(reward) and _finite(state)
        dqn_vector = state.vector if inputs_ok and weights[ModelName.DQN] > 0 else None
        classes, returns = outcome_labels(experience, experience.hold_s)
        winner = np.array([winning_side(experience.move_bp, experience.cost_bp)
                           if experience.move_bp is not None else (ACTIONS.index(experience.side) if reward > 0 else -1)])
        buy_value = _column(buy_net(experience.move_bp, experience.cost_bp) if experience.move_bp is not None else 0.0)

        def dqn_step(w: float) -> float | None:
            if remember:
                self._remember(dqn_vector, experience, w)
            return self.dqn.replay(self.dqn_batch_size)

        steps = {
            ModelName.CNN: lambda w: self.cnn.train_step(state.market_tensor[None], classes[None], returns[None],
                                                         _column(w)),
            ModelName.DQN: dqn_step,
            ModelName.COB_RL: lambda w: self.cob.train_step(state.cob[None], winner, buy_value, _column(w)),
        }
        events = []
        for name in MODELS:
            w = weights[name]
            if w <= 0:
                continue
            t0 = time.perf_counter()
            loss = steps[name](w) if inputs_ok else math.nan
            if name is ModelName.CNN and inputs_ok:
                self.cnn_generation += 1
            events.append(self.stats.record(name, w, loss, t0, warmup=(len(self.dqn.memory), self.dqn_batch_size)))
        log_trade_trained(float(experience.pnl), reward)
        return events

    def train_on_labels(self, batch: Sequence[LabelledState]) -> list[TrainingEvent]:
        """Each model's step on a batch of decisions' matured labels (module docstring): one
        event per model that stepped, CNN first (when its samples made a step).

        Why batches: labels can mature faster than the models step through them one at a
        time (a replay at max speed, a slow machine); a batch keeps each sample's loss term
        as it was and averages them, so the step size does not grow with the batch."""
        if not batch:
            return []
        t0 = time.perf_counter()
        arrays = [labels_to_arrays(sample.labels) for sample in batch]
        market = np.stack([shaped(sample.market_tensor, "market_tensor") for sample in batch])
        classes = np.stack([c for c, _ in arrays])
        returns = np.stack([r for _, r in arrays])
        weights = np.array([sample.weight for sample in batch], np.float32)
        self._cnn_waiting.append((market, classes, returns, weights))
        events = []
        if sum(len(part[0]) for part in self._cnn_waiting) >= self.cnn_labels_per_step:
            new = tuple(np.concatenate(cols) for cols in zip(*self._cnn_waiting))
            self._cnn_waiting = []
            loss = self.cnn.train_step(*self.cnn_memory.with_replay(*new, batch=LABEL_BATCH))
            self.cnn_generation += 1
            if bool(np.isfinite(new[0]).all()):  # after the step: it used the scaling fitted on earlier batches
                self.cnn.net.norm.observe(self.cnn.tensor(new[0]))
                self.cnn_memory.add(*new)
            events.append(self.stats.record(ModelName.CNN, float(new[3].mean()), loss, t0, quiet=True))
        sided = [(shaped_state(s.state), s) for s in batch if s.state is not None and s.move_bp is not None
                 and math.isfinite(s.move_bp)]
        sided = [(state, s) for state, s in sided if _finite(state)]
        if sided:
            events.append(self._dqn_on_labels(sided))
            booked = [(state, s) for state, s in sided if state.cob.any()]
            if booked:
                events.append(self._cob_on_labels(booked))
        return events

    def _dqn_on_labels(self, sided: list[tuple[StateArrays, LabelledState]]) -> TrainingEvent:
        t0 = time.perf_counter()
        vectors = np.stack([state.vector for state, _ in sided])
        for v, (_, s) in zip(vectors, sided):
            self.dqn.remember(v, BUY, buy_net(s.move_bp, s.cost_bp), None, True, weight=s.weight)
            self.dqn.remember(v, SELL, sell_net(s.move_bp, s.cost_bp), None, True, weight=s.weight)
        self._labels_pending += len(sided)
        losses = []
        while self._labels_pending >= LABELS_PER_REPLAY:
            self._labels_pending -= LABELS_PER_REPLAY
            losses.append(self.dqn.replay(self.dqn_batch_size))
        self.dqn.online.observe(torch.from_numpy(vectors))
        known = [x for x in losses if x is not None]
        loss = float(np.mean(known)) if known else None
        weight = float(np.mean([s.weight for _, s in sided]))
        return self.stats.record(ModelName.DQN, weight, loss, t0, quiet=True,
                                 warmup=(len(self.dqn.memory), self.dqn_batch_size))

    def _cob_on_labels(self, booked: list[tuple[StateArrays, LabelledState]]) -> TrainingEvent:
        t0 = time.perf_counter()
        cob = np.stack([state.cob for state, _ in booked])
        winners = np.array([winning_side(s.move_bp, s.cost_bp) for _, s in booked])
        values = np.array([buy_net(s.move_bp, s.cost_bp) for _, s in booked], np.float32)
        weights = np.array([s.weight for _, s in booked], np.float32)
        new = (cob, winners, values, weights)
        loss = self.cob.train_step(*self.cob_memory.with_replay(*new, batch=LABEL_BATCH))
        self.cob_memory.add(*new)
        return self.stats.record(ModelName.COB_RL, float(new[3].mean()), loss, t0, quiet=True)

    def restore_dqn(self, experiences: list[TradeExperience]) -> int:
        """Store closed trades the DQN held before a restart back into its replay memory,
        with their DQN weight and strata, without training; returns how many were stored."""
        stored = 0
        for e in experiences:
            state = shaped_state(e.state)
            if not (math.isfinite(e.reward) and _finite(state)):
                continue  # it was a NaN skip when it closed; it was never in the memory
            self._remember(state.vector, e, float(e.weights[ModelName.DQN]))
            stored += 1
        return stored

    def _remember(self, vector: np.ndarray, e: TradeExperience, weight: float) -> None:
        strata = tuple(s for s, flag in (("extrema", e.extrema), ("clear_move", e.clear_move)) if flag)
        self.dqn.remember(vector, ACTIONS.index(e.side), float(e.reward), None, True, weight=weight, strata=strata)


def outcome_labels(experience: TradeExperience, hold_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The CNN label a closed trade gives: (classes, returns) of shape (horizons,), the class
    of the trade's move by the one outcome rule at `horizon_index(hold_s)`, every other class
    -1 and every return NaN (unknown, masked out of the loss). A trade without its move (an
    old ledger row) falls back to the direction its reward implies."""
    classes = np.full(len(HORIZON_SECONDS), -1, dtype=np.int64)
    returns = np.full(len(HORIZON_SECONDS), np.nan, dtype=np.float32)
    move, cost = experience.move_bp, experience.cost_bp
    if move is not None and math.isfinite(move):
        cls = UP if move > cost else DOWN if move < -cost else FLAT
    else:
        went_up = (experience.reward > 0) == (experience.side == Side.BUY)
        cls = FLAT if experience.reward == 0 else (UP if went_up else DOWN)
    classes[horizon_index(hold_s)] = cls
    return classes, returns


def buy_net(move_bp: float, cost_bp: float) -> float:
    """What BUY netted over the move, in reward units."""
    return (move_bp - cost_bp) / BP_PER_REWARD


def sell_net(move_bp: float, cost_bp: float) -> float:
    return (-move_bp - cost_bp) / BP_PER_REWARD


def winning_side(move_bp: float, cost_bp: float) -> int:
    """BUY (0) when the move beat the cost, SELL (1) when it lost more than the cost, -1 otherwise."""
    return BUY if move_bp > cost_bp else SELL if move_bp < -cost_bp else -1


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
