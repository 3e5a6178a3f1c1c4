"""The Trainer: the models' single owner and the engine's `Learner`
(engine/decision/ports.py). It trains the three models off the event loop on closed-trade
outcomes and matured labels (models/policy.py), serves bounded synchronous inference
(models/inference.py), reports metrics (models/stats.py) and checkpoints
(models/registry.py).

Threading. Training runs in one dedicated worker thread fed by a job queue; callers get a
concurrent.futures.Future (await it with asyncio.wrap_future). A thread, not a process:
torch releases the GIL inside every op, so the Python-level work left on the GIL between
ops is small (measured: max event-loop lag ~6 ms during a 16-trade training burst on an
idle machine; tests/models/test_trainer.py asserts the loop keeps ticking through training,
with bounds measured on a loaded 2-core machine). A process would have to ship each 63 KB state over IPC and, worse, ship
the 15 MB of weights back after every update so inference sees them (measured: ~38 ms to
serialise and load them, against ~3 ms for the in-process copy).

CPU threads. torch's intra-op thread count is per OS thread. The worker trains on all
cores but one by default, leaving a core to the event loop, and inference runs on
`infer_threads` (default 1). Why: on a 2-core machine with anything else busy, two OpenMP
threads per op collapse at their barriers (measured while other processes loaded the CPU:
batch-1 predict p50 44-80 ms on 2 threads vs 5.5 ms on 1; DQN updates 2.6/s vs 30/s).

Determinism. `seed` seeds torch's generator before the three networks are built (so their
initial weights) and the DQN's replay-sampling generator; nothing else in training draws
random numbers. Jobs run one at a time in submission order, and each one's future resolves
only after its weights are published to inference. So when the engine awaits every job
before its next decision (lockstep, engine/learning/schedule.py), the weights after N jobs
depend only on the jobs: bit-identical from run to run on one machine and torch build, on
the CPU, with the thread counts fixed here (another intra-op thread count or CPU may round
floats differently; CUDA kernels that use atomics are not bitwise repeatable). Back-pressure
is the engine's: it keeps at most one label batch in this queue.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.enums import MODELS, ModelName
from engine.decision.ports import LabelledState, ModelMetrics, Prediction, TradeExperience, TrainingEvent
from models.errors import ModelsUnavailable

try:
    import torch

    from models.cnn import CNNLearner
    from models.cob_rl import COBRLAgent
    from models.dqn import DQNAgent
    from models.inference import Inference
    from models.policy import TrainingPolicy
    from models.registry import CheckpointRegistry
    from models.stats import TrainingStats
except ImportError as exc:  # PyTorch missing: Trainer() raises ModelsUnavailable with this reason
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

log = logging.getLogger("models.trainer")

DATA_SOURCES = ("sim", "replay", "live")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelsUnavailable("device 'cuda' was requested but CUDA is not available to PyTorch")
    if name not in ("cpu", "cuda"):
        raise ModelsUnavailable(f"unknown models device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


class Trainer:
    """The models' single owner: see the module docstring for threading."""

    def __init__(
        self,
        device: str = "auto",
        checkpoint_dir: Path | None = None,
        data_source: str = "sim",
        seed: int | None = None,
        *,
        data_detail: str = "",
        allow_other_venue: bool = False,
        checkpoint_every: int = 100,
        dqn_batch_size: int = 32,
        dqn_memory_capacity: int = 10_000,
        train_threads: int | None = None,
        infer_threads: int = 1,
        cnn_labels_per_step: int = 1,
    ) -> None:
        if _IMPORT_ERROR is not None:
            raise ModelsUnavailable(f"PyTorch is not available ({_IMPORT_ERROR}); predictions are disabled")
        if data_source not in DATA_SOURCES:
            raise ValueError(f"data_source must be one of {DATA_SOURCES}, got {data_source!r}")
        self.device = resolve_device(device)
        self.checkpoint_every = checkpoint_every
        self.dqn_memory_capacity = dqn_memory_capacity
        self.train_threads = train_threads or max(1, (os.cpu_count() or 2) - 1)
        self.infer_threads = infer_threads
        if seed is not None:
            torch.manual_seed(seed)
        self.cnn = CNNLearner(device=self.device)
        self.dqn = DQNAgent(device=self.device, memory_capacity=dqn_memory_capacity,
                            learn_start=dqn_batch_size, rng=np.random.default_rng(seed))
        self.cob = COBRLAgent(device=self.device)
        self.stats = TrainingStats(str(self.device))
        self.registry = CheckpointRegistry(Path(checkpoint_dir) if checkpoint_dir else None, data_source,
                                           self.cnn, self.dqn, self.cob, self.stats, data_detail=data_detail,
                                           allow_other_venue=allow_other_venue)
        self.registry.load_all()
        self.policy = TrainingPolicy(self.cnn, self.dqn, self.cob, self.stats, dqn_batch_size, seed=seed,
                                     cnn_labels_per_step=cnn_labels_per_step)
        self.inference = Inference(self.cnn.net, self.dqn.online, self.cob.net, self.stats.snapshot_versions(),
                                   self.device, infer_threads)
        self._jobs_since_save = 0
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
                self._queue.put((self._save, (), Future()))
                self._queue.put(None)
        if self._thread is None:
            self._save()
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("trainer worker still busy after %.0f s; leaving it (daemon thread)", timeout)

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

    # ---- the Learner API ----------------------------------------------------------------

    def submit_trade_outcome(self, experience: TradeExperience) -> Future[list[TrainingEvent]]:
        """Queue training on a closed trade; resolves to one event per contributing model."""
        return self._submit(self._train_outcome, experience, False)

    # ---- durability: what engine/runtime/reconcile.py uses at start --------------------

    def missing_trade_outcomes(self, ledger_trained: dict[str, list[str]]) -> dict[str, list[str]]:
        """Per model, the trades the ledger says it trained on that its checkpoint lacks."""
        return {m.value: ids for m, ids in self.registry.reconcile(ledger_trained).items()}

    def submit_trade_retrain(self, experience: TradeExperience) -> Future[list[TrainingEvent]]:
        """Queue training a trade the checkpoint lacks (only `experience.weights`' models);
        the DQN's memory already holds it from the ledger refill, so it is not stored again."""
        return self._submit(self._train_outcome, experience, True)

    def submit_checkpoint(self) -> Future[None]:
        """Queue saving every checkpoint now (after the jobs before it)."""
        return self._submit(self._save)

    def provenance(self) -> dict[str, dict[str, Any]]:
        """Per model: which checkpoint loaded, what it was trained on, trades held, flags."""
        return {m.value: dict(info) for m, info in self.registry.provenance.items()}

    def submit_labels(self, batch: Sequence[LabelledState]) -> Future[list[TrainingEvent]]:
        """Queue one step per model on a batch of decisions' matured labels (models/policy.py)."""
        return self._submit(self._train, self.policy.train_on_labels, list(batch))

    def submit_dqn_experience(self, experiences: list[TradeExperience]) -> Future[int]:
        """Queue storing the closed trades the DQN held before a restart back into its replay
        memory, without training on them again; resolves to how many were stored (a
        non-finite one never was, and is left out)."""
        return self._submit(self.policy.restore_dqn, experiences)

    def predict(self, vector: np.ndarray, market_tensor: np.ndarray, cob: np.ndarray) -> Prediction:
        """All three models at batch 1 on the published weights, on the caller's thread.
        Raises ValueError on a malformed or non-finite input."""
        return self.inference.predict(vector, market_tensor, cob)

    def metrics(self) -> dict[str, ModelMetrics]:
        """Thread-safe snapshot per model (see models/stats.py)."""
        return self.stats.metrics()

    # ---- worker-thread jobs --------------------------------------------------------------

    def _train_outcome(self, experience: TradeExperience, retrain: bool) -> list[TrainingEvent]:
        """Train the trade's models, except those whose checkpoint already holds it: a save
        can land between a step and the ledger's record of it, and a crash there leaves the
        trade pending although those weights learnt it. They get a `trained` event (loss
        unknown: the step ran in the earlier session), so the ledger and checkpoint agree."""
        held = self.registry.holding(experience.trade_id) if not retrain else set()
        todo = {m: w for m, w in experience.weights.items() if m not in held}
        events = self.policy.train_on_outcome(replace(experience, weights=todo), remember=not retrain) if todo else []
        self.registry.note_trade_outcome(experience.trade_id, events, retrained=retrain)
        if held:
            log.info("the checkpoints of %s already hold trade %s: not trained twice",
                     ", ".join(sorted(m.value for m in held)), experience.trade_id)
            versions = self.stats.snapshot_versions()
            events = [*events, *({"model": m.value, "weight": float(w), "loss": None, "status": "trained",
                                  "device": str(self.device), "model_version": versions[m], "duration_ms": 0.0}
                                 for m, w in experience.weights.items() if m in held)]
            events.sort(key=lambda e: MODELS.index(ModelName(e["model"])))
        return self._train(lambda: events)

    def _train(self, step: Callable[..., list[TrainingEvent]], *args: Any) -> list[TrainingEvent]:
        """Run one training step, publish its weights to inference, and checkpoint every
        `checkpoint_every` jobs."""
        events = step(*args)
        self.inference.publish(self.stats.snapshot_versions(), self.policy.cnn_generation)
        self._jobs_since_save += 1
        if self._jobs_since_save >= self.checkpoint_every:
            self._save()
        return events

    def _save(self) -> None:
        self._jobs_since_save = 0
        self.registry.save_all()
