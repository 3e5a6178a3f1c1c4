"""Training lag in event time: how stale the models are relative to the data they learn from.

For every training job's item (a closed trade, a matured label) the lag is the event time
when its result landed back on the event loop minus the event time when its data matured
(the trade's close reached the engine; the label's last horizon was read). Event time, not
wall time: it says how many seconds of market the decisions ran on models that had not yet
learned from data they could have, which is what matters to a trader and is the same on
any machine for a given run.

In lockstep (engine/learning/schedule.py) no event is consumed while training runs, so the
clock cannot move between maturity and completion: the lag is exactly 0 by construction,
and measuring it in the same way in both modes is what makes that 0 a measurement rather
than a claim. Items whose data matured in an earlier session (trades recovered from the
ledger at start) have no lag in this session and are not counted.
"""

from __future__ import annotations

from array import array

import numpy as np

from engine.core.units import NS_PER_S


class TrainingLag:
    """Every lag sample of the session (8 bytes each: a month of live labels is ~1.4 MB),
    so the summary's median and maximum are over all of them, not a window."""

    def __init__(self) -> None:
        self._lags_ns = array("q")
        self._max_ns = 0
        self._p50: tuple[int, float | None] = (0, None)  # (samples it was computed over, p50 s)

    def record(self, matured_ns: int, done_ns: int) -> None:
        lag = done_ns - matured_ns
        self._lags_ns.append(lag)
        self._max_ns = max(self._max_ns, lag)

    @property
    def count(self) -> int:
        return len(self._lags_ns)

    @property
    def p50_s(self) -> float | None:
        """Median lag in seconds (None before any sample); recomputed only when samples were
        added, since the UI asks ten times a second."""
        n, value = self._p50
        if n != len(self._lags_ns):
            value = float(np.median(np.frombuffer(self._lags_ns, dtype=np.int64))) / NS_PER_S
            self._p50 = (len(self._lags_ns), value)
        return value

    @property
    def max_s(self) -> float | None:
        return self._max_ns / NS_PER_S if self._lags_ns else None

    def summary(self) -> dict[str, float | int | None]:
        return {"count": self.count, "p50": self.p50_s, "max": self.max_s}
