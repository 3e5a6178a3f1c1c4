"""What the engine needs from the models, declared by the engine and implemented by `models/`.

The engine never imports `models` except in its composition root (`engine/runtime/wiring.py`),
so this module is the whole seam: a `Learner` predicts on one state, trains on closed trades
and matured labels off the event loop (each call returns a Future the loop awaits without
blocking), and reports its metrics. Everything that crosses the seam is typed here:
`Prediction` going out of the models, `TradeExperience` and `HorizonLabels` going in,
`TrainingEvent` and `ModelMetrics` coming back. A rename breaks at import, not at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, TypedDict, runtime_checkable

import numpy as np

from engine.core.enums import ModelName, Side


@dataclass(frozen=True, slots=True)
class StateArrays:
    """One decision state as the models read it (shapes in `engine/features/schema.py`)."""

    vector: np.ndarray          # (SCHEMA.dim,) float32
    market_tensor: np.ndarray   # (SCHEMA.market_channels, SCHEMA.market_steps) float32
    cob: np.ndarray             # (COB_FEATURES,) float32

    @classmethod
    def from_mapping(cls, arrays: Mapping[str, np.ndarray]) -> "StateArrays":
        return cls(arrays["vector"], arrays["market_tensor"], arrays["cob"])

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"vector": self.vector, "market_tensor": self.market_tensor, "cob": self.cob}


@dataclass(frozen=True, slots=True)
class Prediction:
    """All three models' outputs for one state, and the model versions they came from."""

    cnn_hidden: np.ndarray       # (CNN_HIDDEN,)
    cnn_predictions: np.ndarray  # (CNN_PREDICTIONS,), layout in engine/features/schema.py
    dqn_action: int              # 0 BUY, 1 SELL
    dqn_q: np.ndarray            # (2,) expected net return of BUY and SELL, in units of 10 bp
    dqn_confidence: float        # softmax(Q)[action]
    cob_action: int
    cob_logits: np.ndarray       # (2,) BUY vs SELL: which side's move beats the cost
    cob_confidence: float        # softmax(logits)[action]
    cob_value: float
    versions: dict[str, int]     # model name -> version these outputs came from
    latency_ms: float
    cob_active: bool = True      # False: the COB input is empty (no order book), its output means nothing


@dataclass(frozen=True, slots=True)
class TradeExperience:
    """A closed trade as the models learn from it: the state its opening signal saw, the
    side taken, the reward of the real outcome, and how much each model contributed.

    `weights` holds only the models that contributed (> 0); exactly those train. The replay
    strata flags (`extrema`, `clear_move`) are decided by the outcome processor."""

    state: StateArrays
    side: Side
    reward: float
    weights: Mapping[ModelName, float]
    pnl: float = 0.0
    hold_s: float | None = None
    extrema: bool = False
    clear_move: bool = False
    move_bp: float | None = None   # the price's log move entry -> exit, in bp (side-free)
    cost_bp: float = 0.0           # the round-trip cost the labels are cut at
    trade_id: str | None = None  # the closed trade's id: checkpoints list the trades they hold


# One horizon's matured label: class 0 down / 1 flat / 2 up by the net move, and the net
# return in percent. A decision's labels map each horizon name (engine/features/schema.py
# `HORIZONS`) to one of these, or to None where the horizon is not labelled.
HorizonLabel = TypedDict("HorizonLabel", {"class": int, "return": float})
HorizonLabels = Mapping[str, HorizonLabel | None]


@dataclass(frozen=True, slots=True)
class LabelledState:
    """One sample of a label batch: a decision's state and what the market did after it.

    Labels go to the models in batches (`Learner.submit_labels`) so that labels maturing
    faster than one step each can be trained in one step rather than queued one step apiece.
    The CNN learns every horizon's class and return; with `state` and `move_bp` (the move
    over the trade horizon) the DQN and the COB model learn both sides of the decision:
    BUY would have netted move - cost, SELL -move - cost, whichever side was taken, so every
    labelled decision teaches them, not only the ones that became trades."""

    market_tensor: np.ndarray   # (SCHEMA.market_channels, SCHEMA.market_steps) float32
    labels: HorizonLabels
    weight: float = 1.0
    state: StateArrays | None = None
    move_bp: float | None = None   # log move over the trade horizon, bp
    cost_bp: float = 0.0           # round-trip cost, bp


class TrainingEvent(TypedDict):
    """One model's training step on one outcome (or on one batch of labels), as the ledger
    stores it."""

    model: str
    weight: float
    loss: float | None
    status: str          # trained | warming_up | skipped_nan
    device: str
    model_version: int
    duration_ms: float


class ModelMetrics(TypedDict):
    steps: int
    events: int
    last_loss: float | None
    history: list[tuple[int, float]]   # (model version, loss)
    steps_per_s: float
    nan_skips: int
    warming_up: int
    model_version: int
    device: str


@runtime_checkable
class Learner(Protocol):
    """The models as the engine uses them. Training calls are queued to the models' own
    thread and return Futures; `predict` runs on the caller's thread on frozen copies."""

    @property
    def device(self) -> object: ...

    @property
    def dqn_memory_capacity(self) -> int: ...

    def start(self) -> None: ...

    def close(self) -> None: ...

    def predict(self, vector: np.ndarray, market_tensor: np.ndarray, cob: np.ndarray) -> Prediction: ...

    def submit_trade_outcome(self, experience: TradeExperience) -> Future[list[TrainingEvent]]: ...

    def submit_labels(self, batch: Sequence[LabelledState]) -> Future[list[TrainingEvent]]:
        """One step per model on the whole batch; resolves (after the inference copy is
        published) to the steps' events."""
        ...

    def submit_dqn_experience(self, experiences: list[TradeExperience]) -> Future[int]: ...

    def metrics(self) -> dict[str, ModelMetrics]: ...
