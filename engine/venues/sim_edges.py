"""The planted, stated pattern of the SIM market: what a model can learn from it.

A pure random walk has nothing to learn, so no user could ever watch the models learn on
SIM. An edge adds one known relation, of a known strength, on top of the same random noise:

  none       the random walk exactly (the same seed gives the same market as without edges)
  lead_lag   every other symbol repeats BTC/USDT's move `lead_lag_s` seconds later: BTC's
             return over [t - lag, t] predicts ETH's return over [t, t + lag]
  momentum   each symbol repeats its own move `momentum_s` seconds later: the return over
             the last N seconds predicts the next N seconds' return
  imbalance  order flow queues before it moves the price: the touch imbalance of each book
             shows the move still to come over the next `imbalance_s` seconds

All three are one mechanism, an echo: a symbol's log-return over a step is
`own * noise + strength * (a source path's move over the same step, lag seconds earlier)`,
with `own = sqrt(1 - strength**2)` so the variance over horizons up to the lag is the
configured volatility. The source is BTC's price path (lead_lag), the symbol's own price path
(momentum) or a hidden order-flow path that the books show (imbalance). `edge_strength` is
therefore, for every edge, the correlation of the stated signal with the return it predicts:
its square is the fraction of that return's variance a perfect model explains.

Over horizons longer than the lag the echo adds variance: lead_lag's follower by up to a
factor 1 + 2·s·sqrt(1 - s²)·correlation; momentum (each echo is echoed again, an AR(1) at lag
N) by up to (1 + s) / (1 - s); imbalance not at all (its hidden path is independent noise).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from engine.config import ConfigError, SimSettings

LEADER = "BTC/USDT"  # lead_lag: the symbol whose move the others repeat
IMBALANCE_CAP = 0.9  # the touch imbalance stays inside ±0.9, so neither side's queue is empty
EDGE_NAMES = {"none": "none", "lead_lag": "lead-lag", "momentum": "momentum", "imbalance": "imbalance"}


class DelayLine:
    """A cumulative path recorded at event times and read back `lag_ns` later.

    Reads move forward in time only (each step reads `now - lag`), so points older than the
    read position are dropped and each read costs O(1) amortised. Before the first point
    plus the lag the path reads flat: an edge starts acting `lag` after the first event.
    """

    def __init__(self, lag_ns: int, start_ns: int, initial: np.ndarray) -> None:
        self.lag_ns = lag_ns
        self._points: deque[tuple[int, np.ndarray]] = deque([(start_ns, initial.copy())])
        self.read = initial.copy()  # the path's value at (last read time - lag)

    def push(self, ts_ns: int, value: np.ndarray) -> None:
        self._points.append((ts_ns, value.copy()))

    def advance(self, ts_ns: int) -> np.ndarray:
        """The path's move between the previous read and `ts_ns - lag` (a step function)."""
        t = ts_ns - self.lag_ns
        pts = self._points
        while len(pts) > 1 and pts[1][0] <= t:
            pts.popleft()
        value = pts[0][1]
        delta = value - self.read
        self.read = value
        return delta


class Edge:
    """The echo of one configured edge for `symbols`; `step` turns noise into log-returns."""

    def __init__(self, settings: SimSettings, symbols: tuple[str, ...], chol: np.ndarray, start_ns: int) -> None:
        self.kind = settings.edge
        s = settings.edge_strength
        n = len(symbols)
        self.strength = s
        self.horizon_s = {"lead_lag": settings.lead_lag_s, "momentum": settings.momentum_s,
                          "imbalance": settings.imbalance_s}[self.kind]
        own = math.sqrt(1.0 - s * s)
        self.own = np.full(n, own)
        self.echo = np.zeros((n, n))  # echo[i, j]: symbol i repeats this much of source j's move
        if self.kind == "lead_lag":
            if LEADER not in symbols or n < 2:
                raise ConfigError(f"sim.edge: \"lead_lag\" needs {LEADER} and another symbol in venue.symbols")
            lead = symbols.index(LEADER)
            self.own[lead] = 1.0
            for i in range(n):
                if i != lead:
                    self.echo[i, lead] = s
        else:
            np.fill_diagonal(self.echo, s)
        self._chol = chol
        # The hidden order flow draws from its own stream, so the price noise, event times and
        # books are the same draws as with edge = "none".
        self._rng = np.random.default_rng(settings.seed + 2_000_003)
        self.path = np.zeros(n)  # the source: cumulative log-return, or hidden order flow
        self.line = DelayLine(int(self.horizon_s * 1e9), start_ns, self.path)

    def step(self, ts_ns: int, z: np.ndarray, sig: float, dt_s: float) -> np.ndarray:
        """The log-return of every symbol over a step of `dt_s` ending at `ts_ns`.

        `z` is the step's correlated standard-normal price noise and `sig` the regime's
        volatility per sqrt(second)."""
        root_dt = math.sqrt(dt_s)
        echoed = self.echo @ self.line.advance(ts_ns)
        x = self.own * z * sig * root_dt + echoed - 0.5 * sig * sig * dt_s
        if self.kind == "imbalance":
            self.path = self.path + (self._chol @ self._rng.standard_normal(len(z))) * sig * root_dt
        else:
            self.path = self.path + x
        self.line.push(ts_ns, self.path)
        return x

    def touch_imbalance(self, j: int, sig: float) -> float:
        """(bid - ask) / (bid + ask) at the touch of symbol j's book: the hidden order flow
        queued over the last `imbalance_s` seconds, which the price repeats over the next
        `imbalance_s` seconds, in units of that horizon's volatility, squashed into ±0.9."""
        pending = float(self.path[j] - self.line.read[j])
        return IMBALANCE_CAP * math.tanh(pending / (sig * math.sqrt(self.horizon_s)))

    def statement(self, symbols: tuple[str, ...]) -> dict[str, object]:
        """The edge as the summary states it: which signal predicts which return, how well."""
        h = f"{self.horizon_s:g} s"
        if self.kind == "lead_lag":
            followers = ", ".join(sym for sym in symbols if sym != LEADER)
            signal, predicts = f"{LEADER} return over the last {h}", f"{followers} return over the next {h}"
        elif self.kind == "momentum":
            signal, predicts = f"each symbol's return over the last {h}", f"its return over the next {h}"
        else:
            signal, predicts = "each book's touch imbalance (bid - ask) / (bid + ask)", f"its return over the next {h}"
        return {"edge": self.kind, "strength": self.strength, "horizon_s": self.horizon_s,
                "signal": signal, "predicts": predicts}


def make_edge(settings: SimSettings, symbols: tuple[str, ...], chol: np.ndarray, start_ns: int) -> Edge | None:
    """The configured edge, or None for "none" (the sim then runs its original random walk)."""
    if settings.edge == "none" or settings.edge_strength == 0.0:
        return None
    return Edge(settings, symbols, chol, start_ns)
