"""The walk-forward fold plan: where each fold trains, waits, and is tested.

Fold k has a cut T_k on a UTC midnight. Its models train online, as in use, on [T_k − W, T_k);
the purge is that nothing whose outcome needs data at or after T_k trains (a trade still open
at T_k, a label whose horizon ends past it: see engine/learning/controls.py); the embargo
[T_k, T_k + E) lets trades and 15-minute labels that straddle the cut run out; the test span is
[T_k + E, T_k + D). The folds' test spans are back to back and end at the last whole UTC day
of the data, T_k = last_midnight − (K − k)·D, so pooled test trades never overlap and every
test day is a whole calendar day (the bootstrap's block). A fold's replay covers
[T_k − W, T_k + D): the training span warms the features up for the test, and the untrained
variant replays the same span so its features are warmed up the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from engine.core.units import NS_PER_S

NS_PER_MIN = 60 * NS_PER_S
NS_PER_DAY = 1440 * NS_PER_MIN


class PlanError(ValueError):
    """The folds asked for do not fit the data; the message says what would."""


@dataclass(frozen=True)
class Fold:
    index: int
    train_start_ns: int
    cut_ns: int  # T: training stops here (frozen variants)
    test_start_ns: int  # T + embargo
    test_end_ns: int  # T + D

    @property
    def replay_span(self) -> tuple[int, int]:
        return self.train_start_ns, self.test_end_ns

    def as_dict(self) -> dict:
        return {"fold": self.index, "train": [iso(self.train_start_ns), iso(self.cut_ns)],
                "embargo_end": iso(self.test_start_ns), "test": [iso(self.test_start_ns), iso(self.test_end_ns)]}


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS_PER_S, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fold_plan(data_start_ns: int, data_end_ns: int, *, folds: int, train_days: float, test_days: int,
              embargo_min: float) -> list[Fold]:
    """K folds over bars that open in [data_start_ns, data_end_ns); raises PlanError if they
    do not fit."""
    if folds < 1 or test_days < 1 or not train_days > 0 or embargo_min < 0:
        raise PlanError("need --folds >= 1, --train-days > 0, --test-days >= 1 and --embargo-min >= 0")
    embargo_ns = int(embargo_min * NS_PER_MIN)
    if embargo_ns >= test_days * NS_PER_DAY:
        raise PlanError(f"--embargo-min {embargo_min:g} leaves nothing of a {test_days}-day test span")
    train_ns = int(train_days * NS_PER_DAY)
    last_midnight = data_end_ns - data_end_ns % NS_PER_DAY
    first_cut = last_midnight - folds * test_days * NS_PER_DAY
    if first_cut - train_ns < data_start_ns:
        have = (last_midnight - data_start_ns) / NS_PER_DAY
        need = train_days + folds * test_days
        raise PlanError(f"{folds} fold(s) of {train_days:g} training + {test_days} test day(s) need {need:g} days"
                        f" ending on a UTC midnight; the data has {have:.1f} (from {iso(data_start_ns)}"
                        f" to {iso(last_midnight)})")
    out = []
    for k in range(folds):
        cut = first_cut + k * test_days * NS_PER_DAY
        out.append(Fold(k, cut - train_ns, cut, cut + embargo_ns, cut + test_days * NS_PER_DAY))
    return out
