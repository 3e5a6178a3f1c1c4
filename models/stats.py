"""Per-model training statistics: the record of each training step (a `TrainingEvent`, as
the ledger stores it), the log line it writes, and the counters behind `metrics()`.

The worker thread writes them while any thread may read them (the TUI, the headless
summary), so reads and writes share one lock. The model versions live here too: a
version is the number of applied steps, bumped in the same critical section as the step
count, so a metrics snapshot never shows one without the other.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from engine.core.enums import MODELS, ModelName
from engine.decision.ports import ModelMetrics, TrainingEvent

log = logging.getLogger("models.stats")

HISTORY = 500  # (version, loss) points kept per model, for the loss chart and the headless trend
RATE_WINDOW = 50  # steps/s is measured over this many recent steps


@dataclass
class ModelStats:
    steps: int = 0
    events: int = 0
    nan_skips: int = 0
    warming_up: int = 0
    last_loss: float | None = None
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    step_times: deque = field(default_factory=lambda: deque(maxlen=RATE_WINDOW))


class TrainingStats:
    def __init__(self, device: str) -> None:
        self.device = device
        self.versions: dict[ModelName, int] = dict.fromkeys(MODELS, 0)
        self._models = {m: ModelStats() for m in MODELS}
        self._lock = threading.Lock()

    def record(self, model: ModelName, weight: float, loss: float | None, started: float, *,
               warmup: tuple[int, int] = (0, 0), quiet: bool = False) -> TrainingEvent:
        """Count one step and log it. `loss` None means the model is still warming up
        (`warmup` = (transitions stored, needed), for the log line), NaN that the step was
        skipped as non-finite; `started` is the step's perf_counter start. `quiet` logs a
        trained step at DEBUG: label steps come every few seconds, trades far less often."""
        if loss is None:
            status = "warming_up"
            log.info("%s warming up with weight %.2f: %d/%d transitions stored", model.label, weight, *warmup)
        elif not math.isfinite(loss):
            status, loss = "skipped_nan", None
            log.warning("%s training step skipped: non-finite input or loss (weight %.2f); weights kept",
                        model.label, weight)
        else:
            status = "trained"
            (log.debug if quiet else log.info)("%s trained with weight %.2f, loss=%.4f", model.label, weight, loss)
        with self._lock:
            s = self._models[model]
            s.events += 1
            if status == "trained":
                self.versions[model] += 1
                s.steps += 1
                s.last_loss = loss
                s.history.append((self.versions[model], loss))
                s.step_times.append(time.monotonic())
            elif status == "skipped_nan":
                s.nan_skips += 1
            else:
                s.warming_up += 1
            version = self.versions[model]
        return {"model": model.value, "weight": weight, "loss": loss, "status": status, "device": self.device,
                "model_version": version, "duration_ms": (time.perf_counter() - started) * 1e3}

    def counts(self, model: ModelName) -> dict[str, int]:
        """The counters a checkpoint keeps, so that metrics continue across a restart."""
        with self._lock:
            s = self._models[model]
            return {"steps": s.steps, "events": s.events, "nan_skips": s.nan_skips}

    def restore(self, model: ModelName, version: int, counts: dict[str, int]) -> None:
        """Put back a checkpoint's version and counters (missing counters start at 0)."""
        with self._lock:
            s = self._models[model]
            self.versions[model] = version
            s.steps, s.events, s.nan_skips = (int(counts.get(k, 0)) for k in ("steps", "events", "nan_skips"))

    def snapshot_versions(self) -> dict[ModelName, int]:
        with self._lock:
            return dict(self.versions)

    def metrics(self) -> dict[str, ModelMetrics]:
        """Per model: steps, last loss, (version, loss) history, recent steps/s, NaN skips,
        warm-ups, version and device."""
        with self._lock:
            out: dict[str, ModelMetrics] = {}
            for name, s in self._models.items():
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
                    "device": self.device,
                }
            return out


def log_trade_trained(pnl: float, reward: float) -> None:
    """The line that closes a trade's training, whichever models it trained."""
    log.info("✅ TRAINED ALL MODELS: PnL=$%.2f, Reward=%.4f", pnl, reward)
