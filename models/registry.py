"""The checkpoint registry: which modules and optimizer make up each model's checkpoint,
saving them all, and loading each one with rollback. models/checkpoints.py makes a single
file crash-safe and sets aside files that are unreadable, non-finite or from another feature
schema; this adds what needs the live models.

Rollback: a file that reads fine can still not fit the current network (a layer renamed,
a width changed) and fail halfway through loading its modules. `load_all` snapshots each
model's modules first and puts them back on failure, then sets the file aside, so that
model starts fresh instead of half-loaded.

Provenance: every checkpoint lists the venue kinds it was trained on; weights from another
kind than this session's (SIM weights in a REPLAY or LIVE session) load only when asked for
(`allow_other_venue`), else `ForeignModels` is raised before anything is loaded. The set of
closed trades each model learnt from (`trade_outcomes`) is saved with it, so a start can
retrain exactly what the ledger says was trained but the checkpoint lacks (`reconcile`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.core.enums import MODELS, ModelName
from models.checkpoints import (ForeignModels, checkpoint_path, read_checkpoint, remove_stale_temps, save_checkpoint,
                                set_aside)
from models.cnn import CNNLearner
from models.cob_rl import COBRLAgent
from models.dqn import DQNAgent
from models.stats import TrainingStats

log = logging.getLogger("models.registry")


class CheckpointRegistry:
    """The three models' checkpoints in `directory` (none kept when it is None), tagged
    with `data_source` ("sim", "replay" or "live") and `data_detail` (which data)."""

    def __init__(self, directory: Path | None, data_source: str, cnn: CNNLearner, dqn: DQNAgent,
                 cob: COBRLAgent, stats: TrainingStats, *, data_detail: str = "",
                 allow_other_venue: bool = False) -> None:
        self.directory = directory
        self.data_source = data_source
        self.data_detail = data_detail
        self.allow_other_venue = allow_other_venue
        self.stats = stats
        self._dqn = dqn
        self._parts: dict[ModelName, tuple[dict[str, nn.Module], torch.optim.Optimizer]] = {
            ModelName.CNN: ({"net": cnn.net}, cnn.optimizer),
            ModelName.DQN: ({"online": dqn.online, "target": dqn.target}, dqn.optimizer),
            ModelName.COB_RL: ({"net": cob.net}, cob.optimizer),
        }
        # Every source each model was ever trained on, as its checkpoint lists them.
        self.data_sources: dict[ModelName, list[str]] = {m: [] for m in MODELS}
        # The closed trades each model learnt from; None: a checkpoint from before this was kept.
        self.trade_outcomes: dict[ModelName, set[str] | None] = {m: set() for m in MODELS}
        self.provenance: dict[ModelName, dict[str, Any]] = {m: _fresh() for m in MODELS}
        self._lock = threading.Lock()  # trade_outcomes: written by the worker, read at start and by saves

    def note_trade_outcome(self, trade_id: str | None, events: Iterable[Mapping[str, Any]],
                           retrained: bool = False) -> None:
        """Record that the models of the `trained` events learnt from `trade_id` (of every
        event when `retrained`: the ledger already counts it, so it is tried once only)."""
        if trade_id is None:
            return
        with self._lock:
            for e in events:
                held = self.trade_outcomes[ModelName(e["model"])]
                if (retrained or e["status"] == "trained") and held is not None:
                    held.add(trade_id)

    def holding(self, trade_id: str | None) -> set[ModelName]:
        """The models whose weights already learnt from `trade_id`."""
        with self._lock:
            return {m for m, held in self.trade_outcomes.items() if trade_id is not None and held and trade_id in held}

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
            with self._lock:
                trades = sorted(self.trade_outcomes[name] or ())
            counts["trade_outcomes"] = len(trades)
            try:
                save_checkpoint(checkpoint_path(self.directory, name), model=name.value,
                                state={k: m.state_dict() for k, m in modules.items()},
                                optimizer=optimizer.state_dict(), model_version=versions[name],
                                data_source=self.data_source, data_sources=self.data_sources[name], counts=counts,
                                trade_outcomes=trades, data_detail=self.data_detail)
            except OSError as exc:
                log.error("could not save the %s checkpoint to %s: %s", name, self.directory, exc)

    def load_all(self) -> None:
        """Load every model's checkpoint that exists and fits; the others start fresh.
        Raises ForeignModels, loading nothing, when one was trained on another venue kind
        and `allow_other_venue` is off."""
        if self.directory is None:
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        remove_stale_temps(self.directory)
        payloads = {}
        for name in MODELS:
            payload, problem = read_checkpoint(checkpoint_path(self.directory, name), name)
            payloads[name] = payload
            if problem is not None:
                self.provenance[name].update(checkpoint="set_aside", flag=f"checkpoint {problem}; started fresh")
        foreign = {n: sorted(set(p["data_sources"]) - {self.data_source}) for n, p in payloads.items() if p}
        foreign = {n: kinds for n, kinds in foreign.items() if kinds}
        if foreign and not self.allow_other_venue:
            kinds = sorted({k for ks in foreign.values() for k in ks})
            raise ForeignModels(
                f"the models in {self.directory} were trained on {', '.join(kinds)}, not only on {self.data_source}: "
                "pass --models-from-other-venue to load them, or use another --workspace")
        for name, payload in payloads.items():
            if payload is not None:
                self._load(name, payload, other_venue=name in foreign)

    def _load(self, name: ModelName, payload: dict[str, Any], other_venue: bool) -> None:
        path = checkpoint_path(self.directory, name)
        modules, optimizer = self._parts[name]
        snapshot = {k: {n: t.clone() for n, t in m.state_dict().items()} for k, m in modules.items()}
        try:
            for key, module in modules.items():
                module.load_state_dict(payload["state"][key])
            optimizer.load_state_dict(payload["optimizer"])
        except (KeyError, RuntimeError, ValueError) as exc:
            for key, module in modules.items():
                module.load_state_dict(snapshot[key])
            problem = f"does not fit the current {name} model ({type(exc).__name__}: {exc})"
            set_aside(path, problem)
            self.provenance[name].update(checkpoint="set_aside", flag=f"checkpoint {problem}; started fresh")
            return
        counts = payload["counts"]
        self.stats.restore(name, int(payload["model_version"]), counts)
        self.data_sources[name] = list(payload["data_sources"])
        held = payload.get("trade_outcomes")
        self.trade_outcomes[name] = None if held is None else set(held)
        if name is ModelName.DQN:
            self._dqn.updates = int(counts.get("dqn_updates", 0))
        self.provenance[name].update(
            checkpoint="loaded", model_version=int(payload["model_version"]), trained_on=self.data_sources[name],
            data_detail=payload.get("data_detail", ""), other_venue=other_venue,
            trade_outcomes=None if held is None else len(held))
        (log.warning if other_venue else log.info)(
            "loaded %s checkpoint v%d (trained on %s%s)", name, payload["model_version"],
            ", ".join(self.data_sources[name]), "; another venue kind, as asked" if other_venue else "")

    def reconcile(self, ledger_trained: Mapping[str, Iterable[str]]) -> dict[ModelName, list[str]]:
        """The ledger's trained trades (per model, in training order) that each model's
        checkpoint lacks. A checkpoint from before trade outcomes were recorded is taken to
        hold the ledger's trades (it cannot say), and flagged; a missing or set-aside one
        holds none, and a ledger with trained trades beside it is flagged."""
        missing: dict[ModelName, list[str]] = {}
        with self._lock:
            for name in MODELS:
                trades = list(dict.fromkeys(ledger_trained.get(name.value, ())))
                held = self.trade_outcomes[name]
                info = self.provenance[name]
                info["ledger_trade_outcomes"] = len(trades)
                if held is None:
                    self.trade_outcomes[name] = set(trades)
                    info["flag"] = (f"checkpoint predates trade-outcome accounting: taken to hold the ledger's "
                                    f"{len(trades)} trained trade(s)")
                    missing[name] = []
                    continue
                missing[name] = [t for t in trades if t not in held]
                if trades and info["checkpoint"] != "loaded" and not info.get("flag"):
                    info["flag"] = (f"no checkpoint beside a ledger with {len(trades)} trained trade(s): "
                                    "started fresh, retraining them from the stored states")
                info["retrained"] = len(missing[name])
        for name, info in self.provenance.items():
            if info.get("flag"):
                log.warning("%s: %s", name.label, info["flag"])
        return missing


def _fresh() -> dict[str, Any]:
    return {"checkpoint": "none", "model_version": 0, "trained_on": [], "data_detail": "", "other_venue": False,
            "trade_outcomes": 0, "ledger_trade_outcomes": None, "retrained": 0, "flag": None}
