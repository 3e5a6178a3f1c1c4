"""Batch-1 inference that never waits for training, and the input checks every entry point
shares.

Double buffering. `predict` runs on one of two frozen copies of the weights. After each
training job the worker copies the trained weights into the spare copy (under that copy's
lock, a few ms) and makes it live. `predict` holds the live copy's lock while it runs, so
the worker, not inference, is the one that waits if they meet.

CNN outputs. The DQN's view of the state (models/dqn.py) holds none of the CNN's outputs, so
the three models run independently on their own inputs; the policy stores the CNN's hidden
features and predictions in the state's CNN blocks afterwards, for the record.

Threads. torch's intra-op thread count is per OS thread (an OpenMP setting); `predict`
sets the calling thread (the event loop's) to `threads` once and leaves it so. Why not
restore the caller's count after each call: resizing the OpenMP team twice per decision
cost ~0.5 ms of a 5 ms budget, and the loop thread runs no other torch work.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.core.enums import ModelName
from engine.decision.ports import Prediction, StateArrays
from engine.features.schema import COB_FEATURES, SCHEMA
from models.cob_rl import COBNet, cob_decide
from models.dqn import DuelingQNet, act_with, inference_net

_SHAPES = {"vector": (SCHEMA.dim,), "market_tensor": (SCHEMA.market_channels, SCHEMA.market_steps),
           "cob": (COB_FEATURES,)}


class _InferenceCopy:
    """One set of frozen inference weights with its lock and the versions it holds: deep
    copies of the CNN and COB modules (so the architectures always match) and of the DQN
    (models/dqn.py `inference_net`)."""

    def __init__(self, cnn: nn.Module, dqn: DuelingQNet, cob: COBNet, versions: Mapping[ModelName, int]) -> None:
        self.cnn, self.cob = (copy.deepcopy(m).eval().requires_grad_(False) for m in (cnn, cob))
        self.dqn = inference_net(dqn)
        self.lock = threading.Lock()
        self.versions = dict(versions)
        self.cnn_generation = 0  # which state of the trained CNN this copy holds


class Inference:
    """Two inference copies of the trained `cnn`, `dqn` and `cob` modules, one of them live."""

    def __init__(self, cnn: nn.Module, dqn: DuelingQNet, cob: COBNet, versions: Mapping[ModelName, int],
                 device: torch.device, threads: int) -> None:
        self._trained = (cnn, dqn, cob)
        self._copies = [_InferenceCopy(cnn, dqn, cob, versions) for _ in range(2)]
        self._live = 0
        self.device = device
        self.threads = threads

    def publish(self, versions: Mapping[ModelName, int], cnn_generation: int = 0) -> None:
        """Copy the trained weights into the spare copy, then make it live (worker thread).
        `cnn_generation` counts the changes to the trained CNN (models/policy.py): the CNN is
        copied only when the spare holds another generation. Why: a label job that trained
        the DQN alone (the CNN steps every few labels) must not copy the CNN's 1.2M weights;
        the DQN and COB models are small and always copied."""
        cnn, dqn, cob = self._trained
        spare_index = 1 - self._live
        spare = self._copies[spare_index]
        with spare.lock, torch.no_grad():
            if spare.cnn_generation != cnn_generation:
                spare.cnn.load_state_dict(cnn.state_dict())
                spare.cnn_generation = cnn_generation
            spare.dqn.load_state_dict(dqn.state_dict())
            spare.cob.load_state_dict(cob.state_dict())
            spare.versions = dict(versions)
        self._live = spare_index

    def predict(self, vector: np.ndarray, market_tensor: np.ndarray, cob: np.ndarray) -> Prediction:
        """All three models at batch 1 on the live copy. Raises ValueError on a malformed or
        non-finite input: no prediction is better than a made-up one."""
        t0 = time.perf_counter()
        v, m, c = checked(vector, "vector"), checked(market_tensor, "market_tensor"), checked(cob, "cob")
        live = self._copies[self._live]
        if torch.get_num_threads() != self.threads:  # once per calling thread
            torch.set_num_threads(self.threads)
        with live.lock, torch.inference_mode():
            hidden, preds = live.cnn(torch.from_numpy(m).to(self.device)[None])
            dqn_action, q, dqn_conf = act_with(live.dqn, v, self.device)
            cob_action, logits, cob_conf, value = cob_decide(live.cob, c, self.device)
            versions = dict(live.versions)
            hidden, preds = hidden[0].float().cpu().numpy(), preds[0].float().cpu().numpy()
        return Prediction(hidden, preds, dqn_action, q, dqn_conf, cob_action, logits, cob_conf, value,
                          versions, (time.perf_counter() - t0) * 1e3, cob_active=bool(c.any()))


def shaped(x: Any, name: str) -> np.ndarray:
    """`x` as a contiguous float32 array of the schema's shape for input `name`, else ValueError."""
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.shape != _SHAPES[name]:
        raise ValueError(f"{name} must have shape {_SHAPES[name]}, got {arr.shape}")
    return arr


def checked(x: Any, name: str) -> np.ndarray:
    """`shaped`, and finite (ValueError if not)."""
    arr = shaped(x, name)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def shaped_state(state: StateArrays) -> StateArrays:
    """A trade's stored state with every array `shaped`. Finiteness is left to the caller,
    which reports a non-finite input as a NaN skip rather than an error."""
    return StateArrays(**{name: shaped(getattr(state, name), name) for name in _SHAPES})
