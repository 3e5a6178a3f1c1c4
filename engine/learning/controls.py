"""Controls on what the models train on: training off, frozen from a time, shuffled labels.

An evaluation (`tickdesk evaluate`) must tell learning apart from luck and from leakage, so it
runs the same engine on the same data with the training changed, and nothing else:

* `[learning] training = "off"`: every training input is dropped; the models keep the weights
  they started with (the untrained variant) and still predict.
* `[learning] train_until = "<UTC time>"`: inputs arriving at or after that event time are
  dropped (the frozen variant: the model as it was at T). An input arrives when its outcome
  is known (a trade when it closes, a label when its last horizon matures), so a trade or
  label whose outcome needs data at or after T never trains: that is the purge.
* `[learning] control = "shuffled"`: the shuffled-label control. Within each UTC day of event
  time, the outcomes of the closed trades (every field of a TradeExperience not known at
  entry: reward, pnl, hold, clear move, ...) are permuted among that day's trades, and the
  matured horizon labels among that day's labelled states. Each state still trains, on some
  other state's outcome, so the labels keep their daily distribution but say nothing about
  the state they come with. A permutation needs the whole day, so inputs are held until their
  day is over (the first input of a later day, or the first at or after `train_until`), then
  submitted in arrival order and batch sizes (a day's lone trade or label is dropped: it
  has nothing to be permuted with). Holding back only withholds information, so it
  cannot leak; a control that still shows an edge means the edge comes from somewhere the
  labels are not (a feature that sees the future, a fill that is too kind).

The calibration that turns the models' scores into P(win) (engine/decision/calibration.py)
is fitted on outcomes too, so it is learning and obeys the same keys: no fit with training
off, frozen from `train_until`, and under the control each day's outcomes permuted among
that day's calibration pairs. Without that, a frozen model kept refitting its calibration on
the test span, and the control's untouched outcomes let it find the planted pattern in the
scores of a model trained on noise (measured: +13.6 bp a trade, the verdict "leakage").

`ControlledLearner` wraps any Learner and `ControlledCalibration` the calibrator;
`wiring.py` and `schedule.py` apply them when a key above is set. Held or dropped inputs
resolve at once with no training events. The wrappers count what they let through
(`trained`) and what they dropped (`dropped`), by kind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import fields, replace
from datetime import datetime, timezone
from typing import Any, TypeVar

import numpy as np

from engine.core.units import NS_PER_S
from engine.decision.ports import LabelledState, Learner, Prediction, TradeExperience, TrainingEvent

NS_PER_DAY = 86400 * NS_PER_S
# What a trade's experience knew at entry (and its id and the configured cost, which are not
# outcomes); every other field is outcome, and is shuffled.
ENTRY_FIELDS = frozenset({"state", "side", "weights", "extrema", "trade_id", "cost_bp"})
# What a labelled decision knew when it was recorded; the rest (labels, the move, weight) is shuffled.
LABEL_ENTRY_FIELDS = frozenset({"market_tensor", "state", "cost_bp"})

T = TypeVar("T")


def _resolved(value: T) -> Future[T]:
    f: Future[T] = Future()
    f.set_result(value)
    return f


def _after(futures: list[Future], value_of: Callable[[list[Any]], T]) -> Future[T]:
    """A future that resolves once all `futures` have, to value_of(their results)."""
    out: Future[T] = Future()
    if not futures:
        out.set_result(value_of([]))
        return out
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_: Future) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            try:
                out.set_result(value_of([f.result() for f in futures]))
            except BaseException as exc:  # the inner learner's failure reaches the awaiting loop
                out.set_exception(exc)

    for f in futures:
        f.add_done_callback(one_done)
    return out


def until_ns(text: str) -> int | None:
    """`[learning] train_until` as event-time ns; "" means no end, a time without a zone is UTC."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * NS_PER_S


class DayGate:
    """Whether an input arriving now may train, and whether the day held for the shuffled
    control is over (the first input of a later day, or the first at or after train_until)."""

    def __init__(self, *, training: bool, shuffled: bool, train_until_ns: int | None) -> None:
        self.training, self.shuffled, self.train_until_ns = training, shuffled, train_until_ns
        self._held_day: int | None = None

    def admit(self, now_ns: int, holding: bool) -> tuple[bool, bool]:
        """(release what is held, this input is open to training)."""
        open_ = self.training and (self.train_until_ns is None or now_ns < self.train_until_ns)
        day = now_ns // NS_PER_DAY
        release = self.shuffled and holding and (not open_ or day != self._held_day)
        if open_:
            self._held_day = day
        return release, open_


class ControlledLearner:
    """A Learner whose training inputs are dropped, frozen from a time, or shuffled by day."""

    def __init__(self, inner: Learner, *, training: bool, shuffled: bool, train_until_ns: int | None,
                 seed: int) -> None:
        self._inner = inner
        self.training = training
        self.shuffled = shuffled
        self._gate = DayGate(training=training, shuffled=shuffled, train_until_ns=train_until_ns)
        self._rng = np.random.default_rng(seed)
        self._now_ns: Callable[[], int] | None = None
        self._held: list[tuple[str, Any]] = []  # ("trade", experience) | ("labels", batch), arrival order
        self.trained = {"trades": 0, "labels": 0}
        self.dropped = {"trades": 0, "labels": 0}

    def bind_clock(self, now_ns: Callable[[], int]) -> None:
        """The engine's event clock: days and `train_until` are read in event time."""
        self._now_ns = now_ns

    # -- the Learner protocol: prediction and metrics pass through --------------------------
    @property
    def device(self) -> object:
        return self._inner.device

    @property
    def dqn_memory_capacity(self) -> int:
        return self._inner.dqn_memory_capacity

    def start(self) -> None:
        self._inner.start()

    def close(self) -> None:
        self._inner.close()

    def predict(self, vector: np.ndarray, market_tensor: np.ndarray, cob: np.ndarray) -> Prediction:
        return self._inner.predict(vector, market_tensor, cob)

    def metrics(self) -> dict:
        return self._inner.metrics()

    def __getattr__(self, name: str) -> Any:  # members the Learner port gains later
        return getattr(self._inner, name)

    # -- training inputs ------------------------------------------------------------------
    def submit_trade_outcome(self, experience: TradeExperience) -> Future[list[TrainingEvent]]:
        released, open_ = self._admit()
        if not open_:
            self.dropped["trades"] += 1
        elif self.shuffled:
            self._held.append(("trade", experience))
        else:
            self.trained["trades"] += 1
            return _after(released + [self._inner.submit_trade_outcome(experience)], lambda r: r[-1])
        return _after(released, lambda _: [])

    def submit_labels(self, batch: Sequence[LabelledState]) -> Future[list[TrainingEvent]]:
        released, open_ = self._admit()
        if not open_:
            self.dropped["labels"] += len(batch)
        elif self.shuffled:
            self._held.append(("labels", list(batch)))
        else:
            self.trained["labels"] += len(batch)
            return _after(released + [self._inner.submit_labels(batch)], lambda r: r[-1])
        return _after(released, lambda _: [])

    def submit_dqn_experience(self, experiences: list[TradeExperience]) -> Future[int]:
        """The DQN's memory refilled from the ledger: real outcomes, so dropped when training
        is off and shuffled (among themselves) under the control."""
        if not self.training:
            return _resolved(0)
        if self.shuffled:
            experiences = _permute(experiences, ENTRY_FIELDS, self._rng)
        return self._inner.submit_dqn_experience(experiences)

    def _admit(self) -> tuple[list[Future], bool]:
        """Release a held day that is over; say whether an input arriving now may train."""
        release, open_ = self._gate.admit(self._now_ns() if self._now_ns is not None else 0, bool(self._held))
        return (self._release() if release else []), open_

    def _release(self) -> list[Future]:
        held, self._held = self._held, []
        trades = _permute([x for kind, x in held if kind == "trade"], ENTRY_FIELDS, self._rng)
        batches = [x for kind, x in held if kind == "labels"]
        flat = _permute([s for b in batches for s in b], LABEL_ENTRY_FIELDS, self._rng)
        # a lone item cannot be shuffled: training on it would be training on its true outcome
        if len(trades) == 1:
            self.dropped["trades"] += 1
            trades = []
        if len(flat) == 1:
            self.dropped["labels"] += 1
            flat = []
        futures: list[Future] = []
        ti = li = 0
        for kind, x in held:
            if kind == "trade":
                if not trades:
                    continue
                futures.append(self._inner.submit_trade_outcome(trades[ti]))
                ti += 1
                self.trained["trades"] += 1
            elif flat:
                futures.append(self._inner.submit_labels(flat[li:li + len(x)]))
                li += len(x)
                self.trained["labels"] += len(x)
        return futures


def _permute(items: list[T], keep: frozenset[str], rng: np.random.Generator) -> list[T]:
    """Each item keeps the fields in `keep` and takes the other fields of a permuted item."""
    if len(items) < 2:
        return list(items)  # nothing to permute with (the caller decides what a lone item means)
    moved = [f.name for f in fields(items[0]) if f.name not in keep]  # type: ignore[arg-type]
    order = rng.permutation(len(items))
    return [replace(item, **{name: getattr(items[j], name) for name in moved})  # type: ignore[type-var]
            for item, j in zip(items, order)]


class ControlledCalibration:
    """The calibrator's outcomes under the controls (see the module docstring); everything
    else (p_win, skill, pairs, window) is the calibrator's own."""

    def __init__(self, calibrator: Any, *, training: bool, shuffled: bool, train_until_ns: int | None, seed: int,
                 now_ns: Callable[[], int]) -> None:
        self._inner, self._now_ns = calibrator, now_ns
        self._gate = DayGate(training=training, shuffled=shuffled, train_until_ns=train_until_ns)
        self._rng = np.random.default_rng([seed, 1])  # its own stream: the learner's draws stay as they were
        self._held: list[tuple[Any, Any, bool, bool]] = []
        self.trained = self.dropped = 0

    def add_label(self, buy: Any, sell: Any, up_won: bool, down_won: bool) -> None:
        release, open_ = self._gate.admit(self._now_ns(), bool(self._held))
        if release:
            self._release()
        if not open_:
            self.dropped += 1
        elif self._gate.shuffled:
            self._held.append((buy, sell, up_won, down_won))
        else:
            self.trained += 1
            self._inner.add_label(buy, sell, up_won, down_won)

    def _release(self) -> None:
        held, self._held = self._held, []
        if len(held) < 2:  # a lone outcome cannot be permuted: fitting it would fit the truth
            self.dropped += len(held)
            return
        for (buy, sell, _, _), j in zip(held, self._rng.permutation(len(held))):
            self._inner.add_label(buy, sell, held[j][2], held[j][3])
        self.trained += len(held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _asked(training: str, control: str, train_until: str) -> bool:
    """Whether `[learning]` asks for any control (the shipped keys ask for none)."""
    return training != "on" or control != "none" or bool(train_until)


def control_calibration(calibrator: Any, *, training: str, control: str, train_until: str, seed: int,
                        now_ns: Callable[[], int]) -> Any:
    """`calibrator` wrapped when `[learning]` asks for a control, unchanged otherwise."""
    if calibrator is None or not _asked(training, control, train_until):
        return calibrator
    return ControlledCalibration(calibrator, training=training == "on", shuffled=control == "shuffled",
                                 train_until_ns=until_ns(train_until), seed=seed, now_ns=now_ns)


def apply_controls(learner: Learner, *, training: str, control: str, train_until: str, seed: int) -> Learner:
    """`learner` wrapped when `[learning]` asks for a control, unchanged otherwise."""
    if not _asked(training, control, train_until):
        return learner
    return ControlledLearner(learner, training=training == "on", shuffled=control == "shuffled",
                             train_until_ns=until_ns(train_until), seed=seed)


def bind_clock(learner: Learner | None, now_ns: Callable[[], int]) -> None:
    if isinstance(learner, ControlledLearner):
        learner.bind_clock(now_ns)
