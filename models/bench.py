"""`tickdesk bench models`: inference latency for one decision and training updates/s per
model, on the real model sizes and the real code paths, with the hardware stated.

Inference = Trainer.predict (CNN + DQN + COB RL at batch 1, including input checks and the
CNN-feature fill). Training = each model's own step on random inputs of the schema's
shapes: the CNN supervised step, the DQN's prioritized replay step (sampling included;
"dqn" uses non-terminal transitions so the full double-DQN target runs, "dqn_terminal" the
closed-trade path where the next-state passes are skipped), the COB actor-critic step.
Random inputs are fine here: the cost of a dense step does not depend on the values.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from engine.core.hardware import hardware_info
from engine.features.schema import COB_FEATURES, SCHEMA
from models.cnn import HORIZONS
from models.dqn import DQNAgent
from models.trainer import Trainer

BATCHES = (32, 256)


def hardware(device: torch.device, trainer: Trainer) -> dict:
    """The machine (engine.core.hardware), plus torch, the device and the trainer's threads."""
    info = {**hardware_info(), "torch": torch.__version__, "device": str(device)}
    info["train_threads"], info["infer_threads"] = trainer.train_threads, trainer.infer_threads
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _rate(step: Callable[[], object], device: torch.device, min_steps: int, max_seconds: float) -> float:
    """Updates per second after one warm-up step: at least min_steps, then until max_seconds."""
    step()
    _sync(device)
    n, t0 = 0, time.perf_counter()
    while n < min_steps or time.perf_counter() - t0 < max_seconds:
        step()
        n += 1
        if n >= 1000:
            break
    _sync(device)
    return n / (time.perf_counter() - t0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_models_bench(
    device: str = "cpu", iterations: int = 1000, seconds_per_case: float = 2.0, batches: tuple[int, ...] = BATCHES
) -> dict:
    """Measure one decision's inference latency and each model's training updates/s."""
    rng = np.random.default_rng(0)
    trainer = Trainer(device, checkpoint_dir=None, seed=0)
    dev = trainer.device
    vec = rng.standard_normal(SCHEMA.dim).astype(np.float32)
    market = rng.standard_normal((SCHEMA.market_channels, SCHEMA.market_steps)).astype(np.float32)
    cob = rng.standard_normal(COB_FEATURES).astype(np.float32)

    for _ in range(20):
        trainer.predict(vec, market, cob)
    lat = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        trainer.predict(vec, market, cob)
        lat.append((time.perf_counter() - t0) * 1e3)

    dqn_agents = {name: DQNAgent(device=dev, memory_capacity=max(batches), rng=rng) for name in ("dqn", "dqn_terminal")}
    for name, agent in dqn_agents.items():
        for _ in range(max(batches)):
            s = rng.standard_normal(SCHEMA.dim).astype(np.float32)
            agent.remember(s, int(rng.integers(2)), float(rng.standard_normal()), s[::-1].copy(), name == "dqn_terminal")

    rates: dict[str, dict[str, float]] = {}
    caller_threads = torch.get_num_threads()
    torch.set_num_threads(trainer.train_threads)  # as in the trainer's worker thread
    for b in batches:
        m = rng.standard_normal((b, SCHEMA.market_channels, SCHEMA.market_steps)).astype(np.float32)
        classes = rng.integers(0, 3, (b, len(HORIZONS)))
        rets = rng.standard_normal((b, len(HORIZONS))).astype(np.float32)
        c = rng.standard_normal((b, COB_FEATURES)).astype(np.float32)
        acts, rew, w = rng.integers(0, 2, b), rng.standard_normal(b).astype(np.float32), np.ones(b, np.float32)
        cases = {
            "cnn": lambda: trainer.cnn.train_step(m, classes, rets, w),
            "dqn": lambda: dqn_agents["dqn"].replay(b),
            "dqn_terminal": lambda: dqn_agents["dqn_terminal"].replay(b),
            "cob_rl": lambda: trainer.cob.train_step(c, acts, rew, w),
        }
        for name, step in cases.items():
            rates.setdefault(name, {})[str(b)] = _rate(step, dev, 2, seconds_per_case)
    torch.set_num_threads(caller_threads)
    trainer.close()

    params = {"cnn": trainer.cnn.net, "dqn": trainer.dqn.online, "cob_rl": trainer.cob.net}
    return {
        "hardware": hardware(dev, trainer),
        "params": {k: sum(p.numel() for p in net.parameters()) for k, net in params.items()},
        "inference_ms": {"p50": float(np.percentile(lat, 50)), "p90": float(np.percentile(lat, 90)),
                         "p99": float(np.percentile(lat, 99)), "max": float(np.max(lat)),
                         "mean": float(np.mean(lat)), "iterations": iterations},
        "train_updates_per_s": rates,
    }


def format_models_bench(result: dict) -> str:
    hw = result["hardware"]
    lines = [
        f"hardware: {hw['cpu']}, {hw['cores']} cores, torch {hw['torch']}, device {hw['device']}"
        + (f" [{hw['gpu']}]" if "gpu" in hw else "")
        + f"; threads: training {hw['train_threads']}, inference {hw['infer_threads']}",
        "params: " + ", ".join(f"{k} {v:,}" for k, v in result["params"].items()),
        "inference, one decision (CNN + DQN + COB RL, batch 1): "
        + ", ".join(f"{k} {result['inference_ms'][k]:.2f} ms" for k in ("p50", "p90", "p99", "max"))
        + f" ({result['inference_ms']['iterations']} runs)",
        "training updates/s:",
    ]
    for name, by_batch in result["train_updates_per_s"].items():
        lines.append(f"  {name:<13}" + "  ".join(f"b{b}: {r:8.1f}" for b, r in by_batch.items()))
    return "\n".join(lines)
