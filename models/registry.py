"""The checkpoint registry: which modules and optimizer make up each model's checkpoint,
saving them all, and loading each one with rollback. models/checkpoints.py makes a single
file crash-safe and sets aside files that are unreadable or from another feature schema;
this adds what needs the live models.

Rollback: a file that reads fine can still not fit the current network (a layer renamed,
a width changed) and fail halfway through loading its modules. `load_all` snapshots each
model's modules first and puts them back on failure, then sets the file aside, so that
model starts fresh instead of half-loaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from engine.core.enums import MODELS, ModelName
from models.checkpoints import checkpoint_path, load_checkpoint, save_checkpoint, set_aside
from models.cnn import CNNLearner
from models.cob_rl import COBRLAgent
from models.dqn import DQNAgent
from models.stats import TrainingStats

log = logging.getLogger("models.registry")


class CheckpointRegistry:
    """The three models' checkpoints in `directory` (none kept when it is None), tagged
    with `data_source` ("sim", "replay" or "live")."""

    def __init__(self, directory: Path | None, data_source: str, cnn: CNNLearner, dqn: DQNAgent,
                 cob: COBRLAgent, stats: TrainingStats) -> None:
        self.directory = directory
        self.data_source = data_source
        self.stats = stats
        self._dqn = dqn
        self._parts: dict[ModelName, tuple[dict[str, nn.Module], torch.optim.Optimizer]] = {
            ModelName.CNN: ({"net": cnn.net}, cnn.optimizer),
            ModelName.DQN: ({"online": dqn.online, "target": dqn.target}, dqn.optimizer),
            ModelName.COB_RL: ({"net": cob.net}, cob.optimizer),
        }
        # Every source each model was ever trained on, as its checkpoint lists them.
        self.data_sources: dict[ModelName, list[str]] = {m: [] for m in MODELS}

    def save_all(self) -> None:
        """Write every model's checkpoint; a failed write is logged, never raised."""
        if self.directory is None:
            return
        versions = self.stats.snapshot_versions()
        for name in MODELS:
            modules, optimizer = self._parts[name]
            counts = self.stats.counts(name)
            if name is ModelName.DQN:  # its target-network sync counts these
                counts["dqn_updates"] = self._dqn.updates
            try:
                save_checkpoint(checkpoint_path(self.directory, name), model=name.value,
                                state={k: m.state_dict() for k, m in modules.items()},
                                optimizer=optimizer.state_dict(), model_version=versions[name],
                                data_source=self.data_source, data_sources=self.data_sources[name], counts=counts)
            except OSError as exc:
                log.error("could not save the %s checkpoint to %s: %s", name, self.directory, exc)

    def load_all(self) -> None:
        """Load every model's checkpoint that exists and fits; the others start fresh."""
        if self.directory is None:
            return
        for name in MODELS:
            self._load(name)

    def _load(self, name: ModelName) -> None:
        path = checkpoint_path(self.directory, name)
        payload = load_checkpoint(path, name)
        if payload is None:
            return
        modules, optimizer = self._parts[name]
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
        counts = payload["counts"]
        self.stats.restore(name, int(payload["model_version"]), counts)
        self.data_sources[name] = list(payload["data_sources"])
        if name is ModelName.DQN:
            self._dqn.updates = int(counts.get("dqn_updates", 0))
        log.info("loaded %s checkpoint v%d (trained on %s)", name, payload["model_version"],
                 ", ".join(self.data_sources[name]))
