"""The Trainer: owns the three models, trains them off the event loop on closed-trade
outcomes and matured CNN labels, serves bounded synchronous inference, exposes loss
metrics, and checkpoints.

Threading. Training runs in one dedicated worker thread fed by a job queue; callers get a
concurrent.futures.Future (await it with asyncio.wrap_future). A thread, not a process:
torch releases the GIL inside every op, so the Python-level work left on the GIL between
ops is small (measured: max event-loop lag ~6 ms during a 16-trade training burst; the test
asserts < 50 ms). A process would have to ship each 63 KB state over IPC and, worse, ship
the 15 MB of weights back after every update so inference sees them (measured: ~38 ms to
serialise and load them, against ~3 ms for the in-process copy below).

CPU threads. torch's intra-op thread count is per OS thread (an OpenMP setting). The worker
trains on all cores but one by default, leaving a core to the event loop; `predict` sets
the calling thread (the event loop's) to `infer_threads` (default 1) and leaves it so.
Why: on a 2-core machine with anything else busy, two OpenMP threads per op collapse at
their barriers (measured while other processes loaded the CPU: batch-1 predict p50 44-80 ms
on 2 threads vs 5.5 ms on 1; DQN updates 2.6/s vs 30/s). Why not restore the caller's
count after each call: resizing the OpenMP team twice per decision cost ~0.5 ms of a 5 ms
budget, and the loop thread runs no other torch work.

Inference. `predict` never waits for a training step: it runs on one of two inference
copies of the weights (double buffering). After each job the worker copies the trained
weights into the spare copy (under that copy's lock, a few ms) and swaps it live. predict
holds the live copy's lock while it runs, so the worker, not inference, is the one that
waits if they meet.

CNN features in the DQN's state. The state vector has blocks for the CNN's 512 hidden
features and 16 predictions. predict writes this decision's CNN outputs into (a copy of)
the vector before the DQN sees it, and training does the same with the current CNN when
the trade's entry state is stored, so training and inference see the same thing whatever
the state builder left in those blocks.

Trade outcomes (`train_on_trade_outcome`). Each model with contribution weight w > 0 is
trained with w as a per-sample loss weight (research/models.md §4.3):
  - CNN: on `cnn_labels` when given; otherwise on the trade's realised direction (a buy
    with reward > 0 or a sell with reward < 0 is "up", the reverse "down", reward 0 "flat")
    at the horizon nearest the holding time (15m when unknown), return head masked.
  - DQN: the entry state, action and reward are stored as a terminal transition (a closed
    trade is a one-decision episode, so `next_state` does not enter the target), then one
    prioritized replay step once the memory holds a batch ("warming_up" until then). The
    trade's "extrema"/"clear_move" flags (engine/learning/outcomes.py) pick its replay strata. After
    a restart `submit_dqn_experience` stores the ledger's earlier transitions again.
  - COB RL: one actor-critic step on the entry order-book features.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.features.schema import COB_FEATURES, SCHEMA
from models.errors import ModelsUnavailable

try:
    import torch
    from torch import nn

    from models.checkpoints import checkpoint_path, load_checkpoint, save_checkpoint, set_aside
    from models.cnn import DOWN, FLAT, HORIZON_SECONDS, UP, CNNLearner, labels_to_arrays
    from models.cob_rl import COBRLAgent, cob_decide
    from models.dqn import ACTIONS, DQNAgent, DuelingQNet, act_with, inference_net, load_inference_weights
except ImportError as exc:  # PyTorch missing: Trainer() raises ModelsUnavailable with this reason
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

log = logging.getLogger("models.trainer")

MODELS = ("cnn", "dqn", "cob_rl")
LABELS = {"cnn": "CNN", "dqn": "DQN", "cob_rl": "COB RL"}
DATA_SOURCES = ("sim", "replay", "live")
HISTORY = 500
_OFFSETS = SCHEMA.offsets()


@dataclass(frozen=True, slots=True)
class Prediction:
    cnn_hidden: np.ndarray  # (512,)
    cnn_predictions: np.ndarray  # (16,), layout in models/cnn.py
    dqn_action: int  # 0 BUY, 1 SELL; below the confidence threshold the caller holds
    dqn_q: np.ndarray  # (2,)
    dqn_confidence: float  # softmax(Q)[action]
    cob_action: int
    cob_logits: np.ndarray  # (2,)
    cob_confidence: float  # softmax(logits)[action]
    cob_value: float
    versions: dict[str, int]  # model versions these outputs came from
    latency_ms: float


@dataclass
class _ModelStats:
    steps: int = 0
    events: int = 0
    nan_skips: int = 0
    warming_up: int = 0
    last_loss: float | None = None
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    step_times: deque = field(default_factory=lambda: deque(maxlen=50))


class _InferenceCopy:
    """One set of frozen inference weights with its lock and the versions it holds: deep
    copies of the CNN and COB modules (so the architectures always match), and the DQN in
    its batch-1 layout (models/dqn.py `inference_net`)."""

    def __init__(self, cnn: nn.Module, dqn: DuelingQNet, cob: nn.Module) -> None:
        self.cnn, self.cob = (copy.deepcopy(m).eval().requires_grad_(False) for m in (cnn, cob))
        self.dqn = inference_net(dqn)
        self.lock = threading.Lock()
        self.versions: dict[str, int] = {}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelsUnavailable("device 'cuda' was requested but CUDA is not available to PyTorch")
    if name not in ("cpu", "cuda"):
        raise ModelsUnavailable(f"unknown models device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


class Trainer:
    """The models' single owner: see the module docstring for threading and training."""

    def __init__(
        self,
        device: str = "auto",
        checkpoint_dir: Path | None = None,
        data_source: str = "sim",
        seed: int | None = None,
        *,
        checkpoint_every: int = 100,
        dqn_batch_size: int = 32,
        dqn_memory_capacity: int = 10_000,
        train_threads: int | None = None,
        infer_threads: int = 1,
    ) -> None:
        if _IMPORT_ERROR is not None:
            raise ModelsUnavailable(f"PyTorch is not available ({_IMPORT_ERROR}); predictions are disabled")
        if data_source not in DATA_SOURCES:
            raise ValueError(f"data_source must be one of {DATA_SOURCES}, got {data_source!r}")
        self.device = resolve_device(device)
        self.data_source = data_source
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_every = checkpoint_every
        self.dqn_batch_size = dqn_batch_size
        self.dqn_memory_capacity = dqn_memory_capacity
        self.train_threads = train_threads or max(1, (os.cpu_count() or 2) - 1)
        self.infer_threads = infer_threads
        if seed is not None:
            torch.manual_seed(seed)
        self.cnn = CNNLearner(device=self.device)
        self.dqn = DQNAgent(device=self.device, memory_capacity=dqn_memory_capacity,
                            learn_start=dqn_batch_size, rng=np.random.default_rng(seed))
        self.cob = COBRLAgent(device=self.device)
        self.versions = dict.fromkeys(MODELS, 0)
        self.data_sources: dict[str, list[str]] = {m: [] for m in MODELS}
        self._stats = {m: _ModelStats() for m in MODELS}
        self._stats_lock = threading.Lock()
        self._jobs_since_save = 0
        for name in MODELS:
            self._load(name)
        self._copies = [_InferenceCopy(self.cnn.net, self.dqn.online, self.cob.net) for _ in range(2)]
        for c in self._copies:
            c.versions = dict(self.versions)
        self._live = 0
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._submit_lock = threading.Lock()
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (also done by the first submit)."""
        with self._submit_lock:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._worker, name="models-trainer", daemon=True)
                self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Finish queued jobs, save checkpoints, stop the worker. Bounded by `timeout`."""
        with self._submit_lock:
            if self._closed:
                return
            self._closed = True
            if self._thread is not None:
                self._queue.put((self._save_all, (), Future()))
                self._queue.put(None)
        if self._thread is None:
            self._save_all()
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("trainer worker still busy after %.0f s; leaving it (daemon thread)", timeout)

    async def stop(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.close, timeout)

    def _worker(self) -> None:
        torch.set_num_threads(self.train_threads)  # this thread only (see module docstring)
        while (item := self._queue.get()) is not None:
            fn, args, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - reported through the future
                log.exception("training job %s failed", getattr(fn, "__name__", fn))
                fut.set_exception(exc)

    def _submit(self, fn: Callable, *args: Any) -> Future:
        self.start()
        fut: Future = Future()
        with self._submit_lock:  # no job may land behind close()'s stop sentinel
            if self._closed:
                fut.set_exception(RuntimeError("trainer is closed"))
            else:
                self._queue.put((fn, args, fut))
        return fut

    # ---- public API --------------------------------------------------------------------

    def submit_trade_outcome(self, signal_data: Mapping, trade_record: Mapping, reward: float) -> Future:
        """Queue `train_on_trade_outcome`; the future resolves to its training events."""
        return self._submit(self.train_on_trade_outcome, signal_data, trade_record, reward)

    def submit_cnn_labels(self, market_tensor: np.ndarray, labels: Mapping, weight: float = 1.0) -> Future:
        """Queue one CNN step on matured multi-horizon labels (format in models/cnn.py)."""
        return self._submit(self._train_cnn_labels, market_tensor, labels, weight)

    def submit_dqn_experience(self, transitions: list[Mapping]) -> Future:
        """Queue storing closed-trade transitions the DQN held before a restart (each a
        mapping: state, action, reward, weight, and the "extrema"/"clear_move" flags) back
        into its replay memory, without training on them again; resolves to the count."""
        return self._submit(self._store_dqn_experience, transitions)

    def predict(self, vector: np.ndarray, market_tensor: np.ndarray, cob: np.ndarray) -> Prediction:
        """All three models at batch 1 on the live inference copy. Raises ValueError on a
        malformed or non-finite input: no prediction is better than a made-up one."""
        t0 = time.perf_counter()
        v, m, c = _checked(vector, "vector"), _checked(market_tensor, "market_tensor"), _checked(cob, "cob")
        live = self._copies[self._live]
        if torch.get_num_threads() != self.infer_threads:  # once per calling thread
            torch.set_num_threads(self.infer_threads)
        with live.lock, torch.inference_mode():
            hidden, preds = live.cnn(torch.from_numpy(m).to(self.device)[None])
            state = with_cnn_features(torch.from_numpy(v).to(self.device)[None], hidden, preds)
            dqn_action, q, dqn_conf = act_with(live.dqn, state, self.device)
            cob_action, logits, cob_conf, value = cob_decide(live.cob, c, self.device)
            versions = dict(live.versions)
            hidden, preds = hidden[0].float().cpu().numpy(), preds[0].float().cpu().numpy()
        return Prediction(hidden, preds, dqn_action, q, dqn_conf, cob_action, logits, cob_conf, value,
                          versions, (time.perf_counter() - t0) * 1e3)

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Thread-safe snapshot per model: steps, last loss, (step, loss) history, recent
        steps/s (over the last 50 steps), NaN skips, version and device."""
        with self._stats_lock:
            out = {}
            for name, s in self._stats.items():
                times = s.step_times
                span = times[-1] - times[0] if len(times) > 1 else 0.0
                out[name] = {
                    "steps": s.steps,
                    "events": s.events,
                    "last_loss": s.last_loss,
                    "history": list(s.history),
                    "steps_per_s": (len(times) - 1) / span if span > 0 else 0.0,
                    "nan_skips": s.nan_skips,
                    "warming_up": s.warming_up,
                    "model_version": self.versions[name],
                    "device": str(self.device),
                }
            return out

    # ---- training (worker thread) --------------------------------------------------------

    def train_on_trade_outcome(self, signal_data: Mapping, trade_record: Mapping, reward: float) -> list[dict]:
        """Train every model that contributed to the trade; returns one event per model."""
        weights = {m: float(signal_data.get("models_used", {}).get(m, 0.0)) for m in MODELS}
        state = _state_arrays(signal_data["state"])
        action = ACTIONS.index(str(signal_data.get("action") or trade_record.get("side")).lower())
        reward = float(reward)
        inputs_ok = math.isfinite(reward) and all(np.isfinite(a).all() for a in state.values())
        # The DQN's state gets its CNN features before the CNN learns from this outcome.
        dqn_vector = self._dqn_vector(state) if inputs_ok and weights["dqn"] > 0 else None
        steps = {
            "cnn": lambda w: self._cnn_outcome_step(state, signal_data.get("cnn_labels"), trade_record, action, reward, w),
            "dqn": lambda w: self._dqn_outcome_step(dqn_vector, signal_data, action, reward, w),
            "cob_rl": lambda w: self.cob.train_step(state["cob"][None], np.array([action]),
                                                    np.array([reward], np.float32), np.array([w], np.float32)),
        }
        events = []
        for name in MODELS:
            w = weights[name]
            if w <= 0:
                continue
            t0 = time.perf_counter()
            loss = steps[name](w) if inputs_ok else math.nan
            events.append(self._record(name, w, loss, t0))
        log.info("✅ TRAINED ALL MODELS: PnL=$%.2f, Reward=%.4f", float(trade_record.get("pnl", 0.0)), reward)
        self._after_job()
        return events

    def _cnn_outcome_step(self, state: Mapping, labels: Mapping | None, trade: Mapping, action: int,
                          reward: float, w: float) -> float:
        classes, returns = labels_to_arrays(labels) if labels else (None, None)
        if classes is None or ((classes < 0).all() and np.isnan(returns).all()):
            classes = np.full(len(HORIZON_SECONDS), -1, dtype=np.int64)
            returns = np.full(len(HORIZON_SECONDS), np.nan, dtype=np.float32)
            went_up = (reward > 0) == (action == 0)
            classes[_horizon_index(trade)] = FLAT if reward == 0 else (UP if went_up else DOWN)
        return self.cnn.train_step(state["market_tensor"][None], classes[None], returns[None], np.array([w], np.float32))

    def _dqn_vector(self, state: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            hidden, preds = self.cnn.net(torch.from_numpy(state["market_tensor"]).to(self.device)[None])
            v = torch.from_numpy(state["vector"]).to(self.device)[None]
            return with_cnn_features(v, hidden, preds)[0].float().cpu().numpy()

    def _dqn_outcome_step(self, vector: np.ndarray, signal_data: Mapping, action: int, reward: float,
                          w: float) -> float | None:
        strata = tuple(s for s in ("extrema", "clear_move") if signal_data.get(s))
        self.dqn.remember(vector, action, reward, None, True, weight=w, strata=strata)
        return self.dqn.replay(self.dqn_batch_size)

    def _store_dqn_experience(self, transitions: list[Mapping]) -> int:
        stored = 0
        for t in transitions:
            state = _state_arrays(t["state"])
            reward, weight = float(t["reward"]), float(t["weight"])
            if not (math.isfinite(reward) and all(np.isfinite(a).all() for a in state.values())):
                continue  # it was a NaN skip when it closed; it was never in the memory
            strata = tuple(s for s in ("extrema", "clear_move") if t.get(s))
            self.dqn.remember(self._dqn_vector(state), ACTIONS.index(str(t["action"]).lower()), reward, None, True,
                              weight=weight, strata=strata)
            stored += 1
        return stored

    def _train_cnn_labels(self, market_tensor: np.ndarray, labels: Mapping, weight: float) -> list[dict]:
        t0 = time.perf_counter()
        classes, returns = labels_to_arrays(labels)
        market = _shaped(market_tensor, "market_tensor")[None]
        loss = self.cnn.train_step(market, classes[None], returns[None], np.array([weight], np.float32))
        event = self._record("cnn", weight, loss, t0, quiet=True)
        self._after_job()
        return [event]

    def _record(self, name: str, w: float, loss: float | None, t0: float, quiet: bool = False) -> dict:
        label = LABELS[name]
        if loss is None:
            status = "warming_up"
            log.info("%s warming up with weight %.2f: %d/%d transitions stored", label, w,
                     len(self.dqn.memory), self.dqn_batch_size)
        elif not math.isfinite(loss):
            status, loss = "skipped_nan", None
            log.warning("%s training step skipped: non-finite input or loss (weight %.2f); weights kept", label, w)
        else:
            status = "trained"
            (log.debug if quiet else log.info)("%s trained with weight %.2f, loss=%.4f", label, w, loss)
        with self._stats_lock:
            s = self._stats[name]
            self.versions[name] += status == "trained"
            s.events += 1
            if status == "trained":
                s.steps += 1
                s.last_loss = loss
                s.history.append((self.versions[name], loss))
                s.step_times.append(time.monotonic())
            elif status == "skipped_nan":
                s.nan_skips += 1
            else:
                s.warming_up += 1
        return {"model": name, "weight": w, "loss": loss, "status": status, "device": str(self.device),
                "model_version": self.versions[name], "duration_ms": (time.perf_counter() - t0) * 1e3}

    def _after_job(self) -> None:
        self._publish()
        self._jobs_since_save += 1
        if self._jobs_since_save >= self.checkpoint_every:
            self._save_all()

    def _publish(self) -> None:
        """Copy the trained weights into the spare inference copy, then make it live."""
        spare_index = 1 - self._live
        spare = self._copies[spare_index]
        with spare.lock, torch.no_grad():
            spare.cnn.load_state_dict(self.cnn.net.state_dict())
            load_inference_weights(spare.dqn, self.dqn.online)
            spare.cob.load_state_dict(self.cob.net.state_dict())
            spare.versions = dict(self.versions)
        self._live = spare_index

    # ---- checkpoints -------------------------------------------------------------------

    def _parts(self, name: str) -> tuple[dict[str, nn.Module], torch.optim.Optimizer]:
        if name == "cnn":
            return {"net": self.cnn.net}, self.cnn.optimizer
        if name == "dqn":
            return {"online": self.dqn.online, "target": self.dqn.target}, self.dqn.optimizer
        return {"net": self.cob.net}, self.cob.optimizer

    def _save_all(self) -> None:
        self._jobs_since_save = 0
        if self.checkpoint_dir is None:
            return
        for name in MODELS:
            modules, optimizer = self._parts(name)
            with self._stats_lock:
                s = self._stats[name]
                counts = {"steps": s.steps, "events": s.events, "nan_skips": s.nan_skips}
            counts["dqn_updates"] = self.dqn.updates
            try:
                save_checkpoint(checkpoint_path(self.checkpoint_dir, name), model=name,
                                state={k: m.state_dict() for k, m in modules.items()},
                                optimizer=optimizer.state_dict(), model_version=self.versions[name],
                                data_source=self.data_source, data_sources=self.data_sources[name], counts=counts)
            except OSError as exc:
                log.error("could not save the %s checkpoint to %s: %s", name, self.checkpoint_dir, exc)

    def _load(self, name: str) -> None:
        if self.checkpoint_dir is None:
            return
        path = checkpoint_path(self.checkpoint_dir, name)
        payload = load_checkpoint(path, name)
        if payload is None:
            return
        modules, optimizer = self._parts(name)
        snapshot = {k: {n: t.clone() for n, t in m.state_dict().items()} for k, m in modules.items()}
        try:
            for key, module in modules.items():
                module.load_state_dict(payload["state"][key])
            optimizer.load_state_dict(payload["optimizer"])
        except (KeyError, RuntimeError, ValueError) as exc:
            for key, module in modules.items():
                module.load_state_dict(snapshot[key])
            set_aside(path, f"does not fit the current {name} model ({type(exc).__name__}: {exc})")
            return
        self.versions[name] = int(payload["model_version"])
        self.data_sources[name] = list(payload["data_sources"])
        s = self._stats[name]
        s.steps, s.events, s.nan_skips = (int(payload["counts"].get(k, 0)) for k in ("steps", "events", "nan_skips"))
        if name == "dqn":
            self.dqn.updates = int(payload["counts"].get("dqn_updates", 0))
        log.info("loaded %s checkpoint v%d (trained on %s)", name, self.versions[name], ", ".join(self.data_sources[name]))


def with_cnn_features(vector: torch.Tensor, hidden: torch.Tensor, preds: torch.Tensor) -> torch.Tensor:
    """A copy of the (B, dim) state with the CNN hidden/prediction blocks overwritten."""
    out = vector.clone()
    h0, h1 = _OFFSETS["cnn_hidden"]
    p0, p1 = _OFFSETS["cnn_predictions"]
    out[:, h0:h1] = hidden
    out[:, p0:p1] = preds
    return out


_SHAPES = {"vector": (SCHEMA.dim,), "market_tensor": (SCHEMA.market_channels, SCHEMA.market_steps),
           "cob": (COB_FEATURES,)}


def _shaped(x: Any, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.shape != _SHAPES[name]:
        raise ValueError(f"{name} must have shape {_SHAPES[name]}, got {arr.shape}")
    return arr


def _checked(x: Any, name: str) -> np.ndarray:
    arr = _shaped(x, name)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _state_arrays(state: Mapping) -> dict[str, np.ndarray]:
    """A trade's stored state as float32 arrays of the schema's shapes (ValueError if not);
    finiteness is checked by the caller, which reports non-finite input as a NaN skip."""
    return {name: _shaped(state[name], name) for name in _SHAPES}


def _horizon_index(trade: Mapping) -> int:
    """The CNN horizon nearest the trade's holding time (15m when unknown)."""
    hold = trade.get("hold_time_s")
    if hold is None and trade.get("exit_time") is not None and trade.get("entry_time") is not None:
        try:
            hold = float(trade["exit_time"]) - float(trade["entry_time"])
        except (TypeError, ValueError):
            hold = None
    if hold is None:
        return HORIZON_SECONDS.index(900)
    return int(np.argmin([abs(math.log(max(float(hold), 1.0) / h)) for h in HORIZON_SECONDS]))
