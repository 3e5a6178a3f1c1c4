"""Synthetic markets for the evaluation tests: a seeded geometric random walk of 1-minute bars,
and trades on it filled by hand (not through engine.evaluation's fill code, so the tests check
that code rather than reuse it)."""

from __future__ import annotations

import numpy as np

from engine.core.units import NS_PER_S
from engine.evaluation.records import Bars, Trade

MINUTE = 60 * NS_PER_S
T0 = 1_704_067_200 * NS_PER_S  # 2024-01-01 00:00 UTC, a day boundary


def random_walk_bars(days: int = 10, sigma_bp: float = 10.0, seed: int = 0) -> Bars:
    """days·1440 one-minute bars; log open-to-open increments ~ N(0, sigma_bp·1e-4)."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    opens = 100.0 * np.exp(np.cumsum(np.concatenate(([0.0], rng.normal(0, sigma_bp * 1e-4, n - 1)))))
    closes = np.append(opens[1:], opens[-1])
    return Bars(T0 + MINUTE * np.arange(n), opens, np.maximum(opens, closes), np.minimum(opens, closes), closes)


def one_bar_trades(bars: Bars, sides_of, cost_bp: float, every: int = 30, policy: str = "greedy") -> list[Trade]:
    """A trade every `every` bars: decided 30 s into bar k, so it enters at open k+1 and exits at
    open k+2 (exit time 60 s later, at or before that open). `sides_of(k, move)` picks the side,
    `move` being open[k+2] − open[k+1] (a planted edge peeks at it; a random one ignores it)."""
    out = []
    o, t = bars.open, bars.open_time_ns
    for k in range(0, len(o) - 2, every):
        side = sides_of(k, o[k + 2] - o[k + 1])
        net = side * (o[k + 2] / o[k + 1] - 1.0) * 1e4 - cost_bp
        decided = int(t[k]) + 30 * NS_PER_S
        out.append(Trade(decided, decided + MINUTE, side, float(o[k + 1]), float(o[k + 2]), float(net), policy))
    return out
