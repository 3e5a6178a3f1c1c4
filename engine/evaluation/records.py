"""The evaluation's inputs, as plain data: closed trades and OHLC bars.

A trade is what the ledger's closed_trades row says after costs: entry/exit time in event
nanoseconds, side ±1, entry/exit price, the net result in bp of notional, and the policy that
chose it ("greedy": the model's best action; "explore": an exploration draw). Bars carry the
open time and OHLC; baselines fill at bar opens, so opens are what they read.

Trades are grouped by the UTC day of their entry for every bootstrap: day = entry_ns // 1 day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from engine.core.units import NS_PER_S, round_trip_cost_bp

NS_PER_DAY = 86400 * NS_PER_S
POLICIES = ("greedy", "explore")


@dataclass(frozen=True, slots=True)
class Trade:
    entry_ns: int
    exit_ns: int
    side: int  # +1 long, -1 short
    entry_price: float
    exit_price: float
    net_bp: float  # after fees and spread
    policy: str = "greedy"

    def __post_init__(self) -> None:
        if self.side not in (1, -1):
            raise ValueError(f"side must be +1 or -1, got {self.side!r}")
        if self.exit_ns < self.entry_ns:
            raise ValueError("a trade cannot exit before it enters")
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {self.policy!r}")

    @property
    def hold_ns(self) -> int:
        return self.exit_ns - self.entry_ns


@dataclass(frozen=True)
class TradeArrays:
    """Column view of a trade list, sorted by entry time (the order every statistic assumes)."""

    entry_ns: np.ndarray
    exit_ns: np.ndarray
    side: np.ndarray
    net_bp: np.ndarray
    policy: np.ndarray

    def __len__(self) -> int:
        return len(self.net_bp)

    @property
    def hold_ns(self) -> np.ndarray:
        return self.exit_ns - self.entry_ns

    @property
    def days(self) -> np.ndarray:
        return utc_days(self.entry_ns)

    def only(self, policies: Iterable[str]) -> "TradeArrays":
        keep = np.isin(self.policy, list(policies))
        return TradeArrays(self.entry_ns[keep], self.exit_ns[keep], self.side[keep],
                           self.net_bp[keep], self.policy[keep])


def trade_arrays(trades: Sequence[Trade]) -> TradeArrays:
    order = sorted(range(len(trades)), key=lambda i: trades[i].entry_ns)
    ts = [trades[i] for i in order]
    return TradeArrays(
        entry_ns=np.array([t.entry_ns for t in ts], dtype=np.int64),
        exit_ns=np.array([t.exit_ns for t in ts], dtype=np.int64),
        side=np.array([t.side for t in ts], dtype=np.int64),
        net_bp=np.array([t.net_bp for t in ts], dtype=float),
        policy=np.array([t.policy for t in ts], dtype=object),
    )


def utc_days(ts_ns: np.ndarray) -> np.ndarray:
    """The UTC calendar day (days since the epoch) of each timestamp: floor(ts / 86400 s)."""
    return np.floor_divide(np.asarray(ts_ns, dtype=np.int64), NS_PER_DAY)


@dataclass(frozen=True)
class Bars:
    """OHLC bars in open-time order. Validated once so the fills can binary-search open_time_ns."""

    open_time_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __post_init__(self) -> None:
        cols = [np.asarray(c) for c in (self.open_time_ns, self.open, self.high, self.low, self.close)]
        if len({len(c) for c in cols}) != 1:
            raise ValueError("bar columns differ in length")
        t = cols[0].astype(np.int64)
        if len(t) > 1 and not np.all(np.diff(t) > 0):
            raise ValueError("bar open times must be strictly increasing")
        if np.any(~np.isfinite(cols[1])) or np.any(cols[1] <= 0):
            raise ValueError("bar opens must be positive and finite")
        object.__setattr__(self, "open_time_ns", t)
        for name, col in zip(("open", "high", "low", "close"), cols[1:]):
            object.__setattr__(self, name, col.astype(float))

    def __len__(self) -> int:
        return len(self.open_time_ns)


@dataclass(frozen=True)
class Costs:
    """Round-trip costs in bp of notional: two taker fills plus one full quoted spread.

    A market round trip pays the taker fee twice (2·fee·10⁴ bp) and crosses half the spread on
    each side, i.e. the full spread once: cost_bp = 2·taker_fee·10⁴ + spread_bp.
    """

    taker_fee: float = 0.0  # a fraction of notional per fill, e.g. 0.0004
    spread_bp: float = 0.0  # the full quoted spread, in bp of mid

    @property
    def round_trip_bp(self) -> float:
        return round_trip_cost_bp(self.taker_fee) + self.spread_bp


def concat(parts: Sequence[TradeArrays]) -> TradeArrays:
    """Pool several folds' trades into one, re-sorted by entry time."""
    if not parts:
        e = np.zeros(0, dtype=np.int64)
        return TradeArrays(e, e.copy(), e.copy(), np.zeros(0), np.zeros(0, dtype=object))
    cols = [np.concatenate([getattr(p, name) for p in parts])
            for name in ("entry_ns", "exit_ns", "side", "net_bp", "policy")]
    order = np.argsort(cols[0], kind="stable")
    return TradeArrays(*(c[order] for c in cols))
