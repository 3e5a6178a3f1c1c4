"""Multi-horizon outcomes: what the market did 1m, 5m and 15m after a decision.

Every `every_s` of event time one decision's state and calibration inputs are kept; as each
horizon passes its realised return is recorded, and at the last horizon the labels are
complete (they are persisted and trained by engine/learning/schedule.py). A move smaller
than the round-trip cost is labelled "flat" (a trade would not have paid), not skipped:
which moves are worth learning is defined by what trading costs, not by an arbitrary
threshold. This is the one outcome rule: the CNN's trade labels, the DQN's and COB's
both-sides labels and the calibration of the threshold all use `label_of`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from engine.core.units import BP, NS_PER_S
from engine.decision.ports import HorizonLabels, StateArrays
from engine.features.schema import HORIZONS, LABELLED_HORIZONS

HORIZONS_S = tuple(s for _, s in LABELLED_HORIZONS)
HORIZON_NAMES = {s: name for name, s in LABELLED_HORIZONS}
CLASS_NAMES = ("down", "flat", "up")
DOWN, FLAT, UP = 0, 1, 2


@dataclass(slots=True)
class Pending:
    signal_id: str
    ts_ns: int
    price: float
    state: StateArrays
    calibration: dict[str, list[float]]  # side -> the models' logit scores at the decision (decision/calibration.py)
    returns_bp: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MaturedLabels:
    signal_id: str
    state: StateArrays
    calibration: dict[str, list[float]]
    returns_bp: dict[int, float]                # horizon seconds -> log return, bp
    labels: HorizonLabels                       # every CNN horizon; unlabelled ones None
    rows: list[tuple[str, int, float, str, int]]  # horizon_outcomes rows for the ledger
    matured_ns: int                             # event time the last horizon was read (the lag's start)

    @property
    def market_tensor(self) -> np.ndarray:
        return self.state.market_tensor


def label_of(return_bp: float, cost_bp: float) -> int:
    """0 down, 1 flat (|move| below the round-trip cost), 2 up."""
    if return_bp > cost_bp:
        return UP
    if return_bp < -cost_bp:
        return DOWN
    return FLAT


class HorizonLabeler:
    def __init__(self, every_s: float, cost_bp: float) -> None:
        self.every_ns = int(every_s * NS_PER_S)
        self.cost_bp = cost_bp
        self.pending: deque[Pending] = deque()
        self._last_ns: int | None = None

    def track(self, signal_id: str, ts_ns: int, price: float | None, state: StateArrays,
              calibration: dict[str, list[float]]) -> bool:
        if price is None or not price > 0:
            return False
        if self._last_ns is not None and ts_ns - self._last_ns < self.every_ns:
            return False
        self._last_ns = ts_ns
        self.pending.append(Pending(signal_id, ts_ns, price, state, calibration))
        return True

    def advance(self, now_ns: int, price: float | None) -> list[MaturedLabels]:
        """Record returns for horizons that passed by `now_ns`; return completed label sets."""
        if price is None or not price > 0:
            return []
        done: list[MaturedLabels] = []
        for item in self.pending:
            for h in HORIZONS_S:
                if h not in item.returns_bp and now_ns - item.ts_ns >= h * NS_PER_S:
                    item.returns_bp[h] = math.log(price / item.price) * BP
        while self.pending and len(self.pending[0].returns_bp) == len(HORIZONS_S):
            item = self.pending.popleft()
            labels: dict = dict.fromkeys(name for name, _ in HORIZONS)
            rows = []
            for h, r in item.returns_bp.items():
                c = label_of(r, self.cost_bp)
                labels[HORIZON_NAMES[h]] = {"class": c, "return": r / 100.0}  # percent, the CNN's unit
                rows.append((item.signal_id, h, r, CLASS_NAMES[c], now_ns))
            done.append(MaturedLabels(item.signal_id, item.state, item.calibration, item.returns_bp, labels, rows, now_ns))
        return done
