"""Closed trade -> reward -> training of exactly the models that contributed.

Runs as one asyncio task consuming a queue of closed-trade ids, so rewards are computed in
close order (the comprehensive reward depends on the previous trades). In lockstep the
engine awaits the queue after every event (engine/learning/schedule.py), so a trade is
trained before the next decision; in real time the queue is never bounded or dropped from:
an outcome happens once and is the most informative thing the models see. Training events
are stamped with the event time their result landed (the training lag's end,
engine/learning/lag.py).

Every step is durable before the next: the closed trade is already queued in
`pending_training` by the fill's transaction; the reward is written before training starts;
the training events are written in the same transaction that clears the pending row. A
crash anywhere in between leaves the trade pending, and `recover()` finishes it after
restart, training it exactly once.

The DQN's replay memory lives in host memory; its durable copy is the ledger (each closed
trade's reward, the weight the DQN trained with, and the entry state's arrays). The first
job of the queue after a start puts those transitions back (`restore_dqn_experience`), so a
restart does not send the DQN back to warming up; its weights come from the checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from typing import Any, Callable

from engine.core.tasks import cancel_and_wait
from engine.core.enums import ModelName, Side
from engine.core.units import BP, NS_PER_S
from engine.decision.ports import Learner, StateArrays, TradeExperience, TrainingEvent
from engine.decision.signal import Signal
from engine.learning.lag import TrainingLag
from engine.learning.reward import Reward, RewardCalculator, RewardInput
from engine.learning.signals_store import load_signal
from engine.learning.tracker import SignalPositionTracker
from storage.ledger import Ledger, decode_state_arrays

log = logging.getLogger("engine.learning.outcomes")

RESTORE_DQN_EXPERIENCE = object()  # queue item: refill the DQN's replay memory from the ledger
RESTORE_PAGE = 128
EXTREMUM_BAND = 0.05  # "extrema": entry within 5 % of the trailing hour's low or high
CLEAR_MOVE_FEES = 3.0  # "clear_move": the price moved at least 3x the fees paid ...
CLEAR_MOVE_SIGMAS = 1.0  # ... and at least one 1m sigma scaled to the holding time


def experience_tags(trade: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, bool]:
    """The DQN replay strata of a closed trade (models/replay_memory.py over-samples them
    and compensates with importance weights). "extrema" uses only what was known at entry
    (context["range_pos_1h"]); "clear_move" grades the outcome, as "positive" does: the
    move was larger than both the costs and the noise expected over the holding time."""
    pos = context.get("range_pos_1h")
    extrema = pos is not None and (pos <= EXTREMUM_BAND or pos >= 1.0 - EXTREMUM_BAND)
    notional = trade["qty"] * trade["entry_price"]
    move_bp = abs(trade["exit_price"] / trade["entry_price"] - 1.0) * BP
    fees_bp = trade["fees"] / notional * BP if notional > 0 else 0.0
    clear = move_bp > 0 and move_bp >= CLEAR_MOVE_FEES * fees_bp
    sigma = context.get("sigma_1m_bp")
    if clear and sigma:
        hold_min = max((trade["exit_ns"] - trade["entry_ns"]) / (60 * NS_PER_S), 1.0)
        clear = move_bp >= CLEAR_MOVE_SIGMAS * sigma * math.sqrt(hold_min)
    return {"extrema": bool(extrema), "clear_move": bool(clear)}


class OutcomeProcessor:
    def __init__(
        self,
        ledger: Callable[[], Ledger],
        calculator: RewardCalculator,
        tracker: SignalPositionTracker,
        trainer: Learner | None,
        schema_fingerprint: str,
        on_done: Callable[[dict[str, Any], Reward | None, list[TrainingEvent]], None],
        now_ns: Callable[[], int],
        lag: TrainingLag,
        cost_bp: float = 0.0,
    ) -> None:
        self.cost_bp = cost_bp  # the outcome rule's round-trip cost (engine/learning/schedule.py label_cost_bp)
        self._ledger = ledger
        self.calculator = calculator
        self.tracker = tracker
        self.trainer = trainer
        self.schema = schema_fingerprint
        self.on_done = on_done
        self.queue: asyncio.Queue[Any] = asyncio.Queue()  # trade ids, or RESTORE_DQN_EXPERIENCE
        self._now_ns = now_ns
        self.lag = lag
        self._matured: dict[str, int] = {}  # trade id -> event time its close reached us (this session)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.trainer is not None:
            self.queue.put_nowait(RESTORE_DQN_EXPERIENCE)  # before any trade of this run
        self._task = asyncio.create_task(self._run(), name="outcomes")

    async def recover(self) -> int:
        """Queue closed trades whose reward or training had not finished before a stop."""
        pending = await self._ledger().pending_training()
        for trade_id in pending:
            self.queue.put_nowait(trade_id)
        if pending:
            log.warning("recovering %d closed trade(s) whose training had not run", len(pending))
        return len(pending)

    def submit(self, trade_id: str) -> None:
        """Queue a trade closed in this session; its training lag counts from now."""
        self._matured[trade_id] = self._now_ns()
        self.queue.put_nowait(trade_id)

    async def drain(self) -> None:
        await self.queue.join()

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                if item is RESTORE_DQN_EXPERIENCE:
                    await self.restore_dqn_experience()
                else:
                    await self.process(item)
            except Exception:
                if item is RESTORE_DQN_EXPERIENCE:
                    log.exception("could not refill the DQN replay memory from the ledger; it starts empty")
                else:
                    log.exception("outcome processing failed for %s; it stays pending for the next start", item)
            finally:
                self.queue.task_done()

    async def process(self, trade_id: str) -> None:
        matured_ns = self._matured.pop(trade_id, None)
        ledger = self._ledger()
        row = await ledger.closed_trade(trade_id)
        if row is None:
            return
        signal = await self._signal_for(row)
        context = signal.context if signal is not None else {}
        reward: Reward | None = None
        if row["reward"] is None:
            reward = self.calculator.compute(RewardInput(
                pnl=row["pnl"], entry_price=row["entry_price"], exit_price=row["exit_price"], qty=row["qty"],
                fees=row["fees"], side=row["side"], hold_s=(row["exit_ns"] - row["entry_ns"]) / NS_PER_S,
                balance=float(context.get("balance") or 0.0), sigma_1m_bp=context.get("sigma_1m_bp"),
            ))
            await ledger.record_reward(trade_id, reward.preset, reward.final, reward.components, row["exit_ns"])
            final = reward.final
        else:
            final = row["reward"]
        events = await self._train(row, signal, final)
        # The event time the result landed; before the first event of a session (a trade
        # recovered at start) the clock knows no later time than the trade's own exit.
        done_ns = max(self._now_ns(), row["exit_ns"])
        if events and matured_ns is not None:
            self.lag.record(matured_ns, done_ns)
        await ledger.complete_training(trade_id, events, done_ns)
        self.on_done(await ledger.closed_trade(trade_id), reward, events)

    async def restore_dqn_experience(self) -> int:
        """Put back into the DQN's replay memory the closed trades it had stored (newest
        first, up to its capacity), in pages: decoded off the loop, stored by the trainer."""
        capacity = self.trainer.dqn_memory_capacity
        read = restored = 0
        while read < capacity:
            rows = await self._ledger().dqn_experience(self.schema, min(RESTORE_PAGE, capacity - read), read)
            if not rows:
                break
            read += len(rows)
            transitions = await asyncio.to_thread(_transitions, rows)
            restored += await asyncio.wrap_future(self.trainer.submit_dqn_experience(transitions))
        if restored:
            log.info("DQN replay memory refilled with %d closed trade(s) from the ledger", restored)
        return restored

    async def _signal_for(self, row: dict[str, Any]) -> Signal | None:
        """The opening signal with its state: from the tracker, or rebuilt from the ledger."""
        signal = self.tracker.take(row["id"])
        if signal is not None or not row["signal_id"]:
            return signal
        return await load_signal(self._ledger(), row["signal_id"], self.schema)

    async def _train(self, row: dict[str, Any], signal: Signal | None, reward: float) -> list[TrainingEvent]:
        if signal is None or self.trainer is None or signal.state is None:
            return []
        weights = {ModelName(m): float(w) for m, w in signal.contributions.items() if w and w > 0}
        if not weights:
            return []
        experience = trade_experience(row, signal, reward, weights, self.cost_bp)
        return await asyncio.wrap_future(self.trainer.submit_trade_outcome(experience))


def trade_experience(row: dict[str, Any], signal: Signal, reward: float, weights: Mapping[ModelName, float],
                     cost_bp: float) -> TradeExperience:
    """A closed trade as the models learn from it (also what a restart retrains from, so a
    retrained trade is the same experience as the one first trained)."""
    return TradeExperience(
        state=signal.state, side=Side(row["side"]), reward=reward, weights=weights, pnl=row["pnl"],
        hold_s=(row["exit_ns"] - row["entry_ns"]) / NS_PER_S, trade_id=row["id"],
        **experience_tags(row, signal.context), move_bp=price_move_bp(row), cost_bp=cost_bp,
    )


def price_move_bp(row: dict[str, Any]) -> float | None:
    """The trade's log price move entry -> exit in bp, whatever its side (None if unknown)."""
    entry, exit_ = row.get("entry_price"), row.get("exit_price")
    if not (entry and exit_ and entry > 0 and exit_ > 0):
        return None
    return math.log(exit_ / entry) * BP


def _transitions(rows: list[dict[str, Any]]) -> list[TradeExperience]:
    """Ledger rows -> the DQN's stored experiences (decompresses the state arrays)."""
    return [
        TradeExperience(
            state=StateArrays.from_mapping(decode_state_arrays(r["arrays"])), side=Side(r["side"]), reward=r["reward"],
            weights={ModelName.DQN: r["weight"]}, hold_s=(r["exit_ns"] - r["entry_ns"]) / NS_PER_S,
            **experience_tags(r, r["context"]),
        )
        for r in rows
    ]
