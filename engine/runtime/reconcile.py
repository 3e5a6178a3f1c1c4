"""The models against the ledger, at start: every trade-outcome training the ledger records
is in the checkpoints, exactly once.

A trade's training events are committed to the ledger as soon as its step runs, while the
weights reach disk only at the next checkpoint (every `checkpoint_every` jobs and at a clean
close). After a kill -9 the ledger therefore says "trained" for steps the checkpoint lacks.
Each checkpoint lists the closed trades it learnt from, so on start the trades the ledger
has and a checkpoint lacks are trained again, each on only the models that lack it, from
the entry state stored with its signal, in the order they first trained; then every
checkpoint is saved, so that work is durable before the session trades. This runs after
the DQN's replay memory was refilled from the ledger (the trades are in it already) and
before the trades still pending from the last run, which train normally.

Horizon-label steps of the CNN are not reconciled: labels are not stored per step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from engine.core.enums import ModelName
from engine.decision.ports import TradeExperience, TrainingEvent
from engine.learning.outcomes import trade_experience
from engine.learning.signals_store import load_signal
from storage.ledger import Ledger

log = logging.getLogger("engine.runtime.reconcile")


@runtime_checkable
class CheckpointedLearner(Protocol):
    """What reconciling needs of the models beyond `Learner` (models/trainer.py has it)."""

    def missing_trade_outcomes(self, ledger_trained: dict[str, list[str]]) -> dict[str, list[str]]: ...

    def submit_trade_retrain(self, experience: TradeExperience) -> Future[list[TrainingEvent]]: ...

    def submit_checkpoint(self) -> Future[None]: ...

    def provenance(self) -> dict[str, dict[str, Any]]: ...


async def reconcile_models(ledger: Ledger, learner: object, schema: str, cost_bp: float) -> dict[str, Any]:
    """Retrain what the checkpoints lack; returns the models' provenance (per model: the
    checkpoint loaded, what it was trained on, trades held and retrained, any flag)."""
    if not isinstance(learner, CheckpointedLearner):
        return {}
    trained = await ledger.trained_trade_outcomes()
    per_model: dict[str, list[str]] = {}
    weights: dict[tuple[str, str], float] = {}
    for trade_id, model, weight in trained:
        per_model.setdefault(model, []).append(trade_id)
        weights[(trade_id, model)] = weight
    missing = learner.missing_trade_outcomes(per_model)
    order = list(dict.fromkeys(t for t, _, _ in trained))
    lacking: dict[str, list[str]] = {}
    for model, ids in missing.items():
        for trade_id in ids:
            lacking.setdefault(trade_id, []).append(model)
    todo = [t for t in order if t in lacking]
    if todo:
        log.warning("retraining %d closed trade(s) the checkpoints lack (%s)", len(todo),
                    ", ".join(f"{m} {len(ids)}" for m, ids in missing.items() if ids))
    unusable, started = 0, time.perf_counter()
    for trade_id in todo:
        experience = await _experience(ledger, trade_id, {m: weights[(trade_id, m)] for m in lacking[trade_id]}, schema,
                                       cost_bp)
        if experience is None:
            unusable += 1
            continue
        await asyncio.wrap_future(learner.submit_trade_retrain(experience))
    if unusable:
        log.warning("%d trade(s) the checkpoints lack have no stored state to retrain from", unusable)
    if todo:
        await asyncio.wrap_future(learner.submit_checkpoint())
        log.info("retrained %d trade(s) and saved the checkpoints in %.1f s", len(todo) - unusable,
                 time.perf_counter() - started)
    return learner.provenance()


async def _experience(ledger: Ledger, trade_id: str, weights: Mapping[str, float], schema: str,
                      cost_bp: float) -> TradeExperience | None:
    row = await ledger.closed_trade(trade_id)
    if row is None or row["reward"] is None or not row["signal_id"]:
        return None
    signal = await load_signal(ledger, row["signal_id"], schema)
    if signal is None or signal.state is None:
        return None
    return trade_experience(row, signal, row["reward"], {ModelName(m): w for m, w in weights.items()}, cost_bp)
