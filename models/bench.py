"""`tickdesk bench models`: inference latency for one decision and training updates/s per
model, on the real model sizes and the real code paths, with the hardware stated.

Inference = Trainer.predict (CNN + DQN + COB RL at batch 1, including input checks and the
CNN-feature fill). Training = each model's own step on random inputs of the schema's
shapes: the CNN supervised step, the DQN's prioritized replay step (sampling included;
"dqn" uses non-terminal transitions so the full double-DQN target runs, "dqn_terminal" the
closed-trade path where the next-state passes are skipped), the COB actor-critic step.
Random inputs are fine here: the cost of a dense step does not depend on the values.

Micro-batching = each network's forward pass over K decisions at once, per decision, and
whether each row of the batch is bit-equal to that decision's batch-1 pass; twice: as the
network runs (every linear layer one matrix product over all K rows) and with one product
per sample (`PerSampleGemm`). Why measured here: a lockstep run could batch the decisions
between two training steps only if the batched rows were identical to the one-by-one ones
(the same data and seed must give the same trades), and only if the batch saves enough to
pay for running the market ahead. A product over more rows is blocked differently by the
CPU kernels, so its last bits differ; K products of the batch-1 shape are not.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from engine.core.hardware import hardware_info
from engine.features.schema import COB_FEATURES, SCHEMA
from models.cnn import HORIZONS
from models.dqn import DQNAgent
from models.trainer import Trainer

BATCHES = (32, 256)
MICRO_BATCHES = (1, 8, 32)


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


def _outputs(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A network's outputs as one (B, n) tensor (the CNN and COB RL return a pair)."""
    out = net(x)
    parts = out if isinstance(out, tuple) else (out,)
    return torch.cat([p.reshape(x.shape[0], -1).float() for p in parts], dim=1)


class PerSampleGemm(TorchFunctionMode):
    """While active, a linear layer on a batch (B, ..., K) runs as B matrix products of the
    batch-1 shape (one `baddbmm`: sample b's rows times the weight, plus the bias), not as one
    product over all B x ... rows. Everything else runs as it is. Its times include the
    mode's Python dispatch of every torch call, so they bound a direct implementation's from above."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is not F.linear:
            return func(*args, **kwargs)
        x, weight = args[0], args[1]
        bias = args[2] if len(args) > 2 else kwargs.get("bias")
        if x.dim() not in (2, 3) or x.shape[0] == 1 or bias is None:
            return func(*args, **kwargs)
        rows = x if x.dim() == 3 else x.unsqueeze(1)  # (B, rows per sample, K)
        b, m = rows.shape[:2]
        out = torch.baddbmm(bias.expand(b, m, -1), rows, weight.t().expand(b, -1, -1))
        return out if x.dim() == 3 else out.squeeze(1)


def micro_batches(nets: dict[str, tuple[torch.nn.Module, torch.Tensor]], device: torch.device,
                  sizes: tuple[int, ...] = MICRO_BATCHES, seconds: float = 0.5) -> dict:
    """Per network and batch size K: forward ms per decision, and how many of the K rows are
    bit-equal to their batch-1 pass, as the network runs and under `PerSampleGemm` (its
    "per_sample_gemm" entry). `nets` maps a name to (network, inputs of max(sizes) rows)."""
    out: dict[str, dict[str, dict]] = {}

    def measure(net: torch.nn.Module, x: torch.Tensor, single: torch.Tensor) -> dict:
        rate = _rate(lambda: _outputs(net, x), device, 3, seconds)
        equal = int((_outputs(net, x) == single[:len(x)]).all(dim=1).sum())
        return {"ms_per_decision": 1e3 / rate / len(x), "rows_bit_equal": equal}

    with torch.inference_mode():
        for name, (net, inputs) in nets.items():
            single = torch.cat([_outputs(net, inputs[i:i + 1]) for i in range(max(sizes))])
            for k in sizes:
                x = inputs[:k]
                row = measure(net, x, single)
                if k == 1:  # the mode leaves a batch of one as it is: the same pass, not re-timed
                    row["per_sample_gemm"] = dict(row)
                else:
                    with PerSampleGemm():
                        row["per_sample_gemm"] = measure(net, x, single)
                out.setdefault(name, {})[str(k)] = row
    return out


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

    k = max(MICRO_BATCHES)  # on the inference thread count, which the predictions above set
    inputs = {name: torch.from_numpy(rng.standard_normal((k, *shape)).astype(np.float32)).to(dev)
              for name, shape in (("cnn", market.shape), ("dqn", vec.shape), ("cob_rl", cob.shape))}
    nets = {"cnn": trainer.cnn.net, "dqn": trainer.dqn.online, "cob_rl": trainer.cob.net}
    micro = micro_batches({name: (net, inputs[name]) for name, net in nets.items()}, dev, seconds=seconds_per_case / 4)

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
        "micro_batch": micro,
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
        "micro-batched inference, ms per decision at batch K (rows bit-equal to their batch-1 pass / K),"
        " one product per layer | one per sample:",
    ]
    for name, by_k in result["micro_batch"].items():
        lines.append(f"  {name:<13}" + "  ".join(
            f"b{k}: {v['ms_per_decision']:6.3f} ({v['rows_bit_equal']}/{k})"
            f" | {v['per_sample_gemm']['ms_per_decision']:6.3f} ({v['per_sample_gemm']['rows_bit_equal']}/{k})"
            for k, v in by_k.items()))
    lines.append("training updates/s:")
    for name, by_batch in result["train_updates_per_s"].items():
        lines.append(f"  {name:<13}" + "  ".join(f"b{b}: {r:8.1f}" for b, r in by_batch.items()))
    return "\n".join(lines)
