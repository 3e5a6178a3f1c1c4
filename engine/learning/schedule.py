"""When training runs relative to the event stream: lockstep, or real time with back-pressure.

The one definition (`real_time_training`): training is real time on a live venue, and on
sim or replay paced at exactly 1x (`--speed 1`); at any other speed (`max`, or a factor
other than 1) it is lockstep. The engine asks per event, so switching the pacer's speed
(the TUI's warm-up runs at max) switches the mode with it.

Lockstep. Nothing outside the data waits in a replay or a fast sim, so nothing should race
the data: after every event that closed a trade or matured labels, and before every
decision step, the engine awaits (`TrainingSchedule.settle`, futures, never a blocking call)
the outcome processing of every trade closed so far, then one CNN step on every label
matured so far; the learner resolves each future only after the inference copy is
published. No event is consumed meanwhile. So every decision runs on models that have
learned from everything that happened before it, the order of training jobs is fixed
(outcomes in close order, then labels in maturity order), and a run is a function of the
data, the seed and the config: the same command gives the same trades and the same
weights, whatever the CPU speed. Measured before this existed: in a 6-day replay at max
speed label steps ran a median 21.5 event-hours after their labels matured, 15 of 644
closed trades were trained before the replay ended, and the DQN that made all 8,640
decisions was version 0.

Real time. The market does not wait, so training runs beside it: closed trades are trained
in close order as they come (never dropped), and matured labels wait in a queue of at most
`label_queue_max`; one CNN step at a time takes up to `label_batch_max` of them, oldest
first, and when the queue is full the oldest waiting label is dropped and counted (its
outcome row is still written). The learner's own FIFO thus holds at most one label batch
ahead of a closed trade, so a trade never waits behind a backlog of labels.

Both modes measure the training lag the same way (engine/learning/lag.py); in lockstep it
is 0 by construction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from engine.core.tasks import cancel_and_wait
from engine.config import Settings
from engine.core.units import round_trip_cost_bp
from engine.decision.ports import LabelledState, Learner, TrainingEvent
from engine.features.schema import LABELLED_HORIZONS, SCHEMA
from engine.core.enums import Side
from engine.decision.calibration import Calibrator
from engine.learning.controls import control_calibration
from engine.learning.horizons import DOWN, UP, HorizonLabeler, MaturedLabels, label_of
from engine.learning.lag import TrainingLag
from engine.learning.outcomes import OutcomeProcessor
from engine.learning.reward import Reward, RewardCalculator
from engine.learning.tracker import SignalPositionTracker
from storage.ledger import Ledger

log = logging.getLogger("engine.learning.schedule")

REAL_TIME_SPEED = 1.0
DROP_LOG_EVERY = 100  # after the first dropped label, one warning per this many


def real_time_training(venue: str, speed: float | None) -> bool:
    """True where training runs beside the market (live, or sim/replay at exactly 1x);
    False where the engine trains in lockstep with the data (any other speed)."""
    return venue == "live" or speed == REAL_TIME_SPEED


class LabelTraining:
    """Matured labels -> the ledger -> the CNN, in batches; bounded in real time.

    `flush_signals` writes the decision signals still batched in memory first, so every
    horizon outcome row refers to a signal the ledger holds."""

    def __init__(self, labeler: HorizonLabeler, learner: Learner, ledger: Callable[[], Ledger],
                 flush_signals: Callable[[], Any], now_ns: Callable[[], int], lag: TrainingLag,
                 real_time: Callable[[], bool], *, batch_max: int, queue_max: int,
                 calibrator: Calibrator | None = None, trade_horizon_s: int = 60) -> None:
        self.labeler = labeler
        self.calibrator = calibrator
        self.trade_horizon_s = trade_horizon_s
        self._learner = learner
        self._ledger = ledger
        self._flush_signals = flush_signals
        self._now_ns = now_ns
        self.lag = lag
        self._real_time = real_time
        self.batch_max = batch_max
        self.queue_max = queue_max
        self.waiting: deque[MaturedLabels] = deque()
        self.dropped = 0
        self._rows: list[tuple[str, int, float, str, int]] = []  # outcome rows not yet written
        self._pump: asyncio.Task | None = None

    def advance(self, now_ns: int, price: float | None) -> None:
        """Queue the labels that matured by `now_ns`; in real time, start training them."""
        for matured in self.labeler.advance(now_ns, price):
            self._rows.extend(matured.rows)
            self._calibrate(matured)
            if len(self.waiting) >= self.queue_max:
                self.waiting.popleft()
                self.dropped += 1
                if self.dropped % DROP_LOG_EVERY == 1:
                    log.warning("CNN label queue full (%d): dropped the oldest label (%d dropped so far)",
                                self.queue_max, self.dropped)
            self.waiting.append(matured)
        if self.waiting and self._pump is None and self._real_time():
            self._pump = asyncio.create_task(self._run_pump(), name="label-training")

    def _calibrate(self, matured: MaturedLabels) -> None:
        """Both sides' out-of-sample outcomes at the trade horizon -> the calibrator. Done as
        the labels mature (not when they are trained), so what a decision may use depends
        only on event time, in either mode."""
        self._add_pair(matured.calibration, matured.returns_bp[self.trade_horizon_s])

    def _add_pair(self, inputs: dict[str, list[float]], move_bp: float) -> None:
        if self.calibrator is None:
            return
        label = label_of(move_bp, self.labeler.cost_bp)
        self.calibrator.add_label(inputs[str(Side.BUY)], inputs[str(Side.SELL)], label == UP, label == DOWN)

    async def restore_calibration(self) -> int:
        """Refit the calibration on the ledger's last labelled decisions (a restarted session
        whose models came back from their checkpoints); returns the decisions read."""
        if self.calibrator is None:
            return 0
        pairs = await self._ledger().calibration_pairs(self.trade_horizon_s, self.calibrator.window // 2)
        for inputs, move_bp in pairs:
            self._add_pair(inputs, move_bp)
        return len(pairs)

    @property
    def idle(self) -> bool:
        return not self.waiting and self._pump is None

    async def _run_pump(self) -> None:
        try:
            while self.waiting:
                await self._train_next()
        finally:
            self._pump = None

    async def settle(self) -> None:
        """Train every label waiting now (and let a running real-time batch finish first)."""
        if self._pump is not None:
            await self._pump
        while self.waiting:
            await self._train_next()

    async def _train_next(self) -> None:
        batch = [self.waiting.popleft() for _ in range(min(self.batch_max, len(self.waiting)))]
        rows, self._rows = self._rows, []
        try:
            await self._flush_signals()
            ledger = self._ledger()
            if rows:
                await ledger.record_horizon_outcomes(rows)
            samples = [LabelledState(m.market_tensor, m.labels, state=m.state, move_bp=m.returns_bp[self.trade_horizon_s],
                                     cost_bp=self.labeler.cost_bp) for m in batch]
            events: list[TrainingEvent] = await asyncio.wrap_future(self._learner.submit_labels(samples))
            done_ns = self._now_ns()
            for m in batch:
                self.lag.record(m.matured_ns, done_ns)
            await ledger.complete_training(None, events, done_ns, kind="horizon_label")
        except Exception:
            log.exception("horizon-label training failed for %d label(s) from signal %s on", len(batch),
                          batch[0].signal_id)

    async def stop(self) -> None:
        await cancel_and_wait(self._pump)


class TrainingSchedule:
    """The learning stage as the engine drives it: the outcome processor, the label
    training, the lag they share, and the mode that decides whether the engine waits."""

    def __init__(self, venue: str, speed: Callable[[], float | None], outcomes: OutcomeProcessor,
                 labels: LabelTraining | None, lag: TrainingLag) -> None:
        self.venue = venue
        self._speed = speed
        self.outcomes = outcomes
        self.labels = labels
        self.lag = lag

    @property
    def real_time(self) -> bool:
        return real_time_training(self.venue, self._speed())

    async def settle(self) -> None:
        """Lockstep: return once every closed trade and matured label so far is trained and
        published. Real time: return at once. Cheap when there is nothing to train (called
        per event)."""
        if self.real_time:
            return
        await self.outcomes.drain()
        if self.labels is not None and not self.labels.idle:
            await self.labels.settle()

    async def drain(self) -> None:
        """Finish all training in flight or waiting, in either mode (end of a session)."""
        await self.outcomes.drain()
        if self.labels is not None:
            await self.labels.settle()

    async def stop(self) -> None:
        await self.outcomes.stop()
        if self.labels is not None:
            await self.labels.stop()

    def summary(self) -> dict[str, Any]:
        """The headless summary's `training_lag_event_s`: the mode now, the lag in seconds of
        event time over every item trained this session, and the labels dropped."""
        return {"mode": "real_time" if self.real_time else "lockstep", **self.lag.summary(),
                "labels_dropped": self.labels.dropped if self.labels is not None else 0}


def label_cost_bp(settings: Settings) -> float:
    """The round-trip cost the outcome rule cuts at: two taker fees plus the stated spread
    (`bar_spread_bp`, what a bars-only fill pays; on a book it is a conservative stand-in)."""
    return round_trip_cost_bp(settings.trading.taker_fee) + settings.trading.bar_spread_bp


def build_training(settings: Settings, venue: str, learner: Learner | None, now_ns: Callable[[], int],
                   speed: Callable[[], float | None], ledger: Callable[[], Ledger], flush_signals: Callable[[], Any],
                   tracker: SignalPositionTracker,
                   on_outcome: Callable[[dict[str, Any], Reward | None, list[TrainingEvent]], None],
                   calibrator: Calibrator | None = None) -> TrainingSchedule:
    """The learning stage of one engine (label training only when there is a learner)."""
    lag = TrainingLag()
    outcomes = OutcomeProcessor(ledger, RewardCalculator(settings.reward.preset), tracker, learner,
                                SCHEMA.fingerprint, on_outcome, now_ns, lag, cost_bp=label_cost_bp(settings))
    labels = None
    if learner is not None:
        m, c = settings.models, settings.learning
        calibrator = control_calibration(calibrator, training=c.training, control=c.control,
                                         train_until=c.train_until, seed=settings.sim.seed, now_ns=now_ns)
        labeler = HorizonLabeler(m.label_every_s, label_cost_bp(settings))
        labels = LabelTraining(labeler, learner, ledger, flush_signals, now_ns, lag,
                               lambda: real_time_training(venue, speed()),
                               batch_max=m.label_batch_max, queue_max=m.label_queue_max, calibrator=calibrator,
                               trade_horizon_s=dict(LABELLED_HORIZONS)[m.trade_horizon])
    return TrainingSchedule(venue, speed, outcomes, labels, lag)
