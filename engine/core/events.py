"""Engine event types and their validation.

Every venue (sim, replay, live) turns what it sees into these events; everything downstream
consumes only them. Timestamps are integer nanoseconds of event time (UTC epoch).
Validation happens here, once, before any arithmetic: a price <= 0, NaN or inf never
reaches the book, the bars or the portfolio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from engine.core.enums import FeedState, Side
from engine.core.units import TIMEFRAME_NS


class InvalidEvent(ValueError):
    """An event that must be counted and skipped, never processed. `reason` is a short key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def check_price(value: float, what: str = "price") -> float:
    """Return `value` as float if it is a usable price; raise InvalidEvent otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidEvent("malformed", f"{what}={value!r}") from None
    if math.isnan(v) or math.isinf(v):
        raise InvalidEvent("non_finite_price", f"{what}={value!r}")
    if v <= 0.0:
        raise InvalidEvent("non_positive_price", f"{what}={value!r}")
    return v


def check_qty(value: float, what: str = "qty", allow_zero: bool = False) -> float:
    """Return `value` as float if it is a usable quantity; raise InvalidEvent otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidEvent("malformed", f"{what}={value!r}") from None
    if math.isnan(v) or math.isinf(v):
        raise InvalidEvent("non_finite_qty", f"{what}={value!r}")
    if v < 0.0 or (v == 0.0 and not allow_zero):
        raise InvalidEvent("bad_qty", f"{what}={value!r}")
    return v


_SMALL_BOOK = 64  # levels up to which Python floats check faster than numpy reductions


def check_levels(levels: np.ndarray) -> np.ndarray:
    """Return (n, 2) price/qty book levels if every level is usable (finite, price > 0,
    qty >= 0, where qty 0 deletes a level); raise InvalidEvent otherwise. Empty is usable.

    Diffs (a few dozen levels, several per second per symbol) are checked as Python floats,
    about five times faster than the numpy reductions that suit snapshots; both apply the
    same rules in the same order, so a bad level gets the same reason either way."""
    if levels.size == 0:
        return levels
    if levels.ndim != 2 or levels.shape[1] != 2:
        raise InvalidEvent("malformed", f"book levels shape {levels.shape}")
    if len(levels) <= _SMALL_BOOK:
        flat = levels.ravel().tolist()
        finite = all(map(math.isfinite, flat))
        price_ok = finite and min(flat[0::2]) > 0
        qty_ok = price_ok and min(flat[1::2]) >= 0
    else:
        finite = bool(np.isfinite(levels).all())
        price_ok = finite and not (levels[:, 0] <= 0).any()
        qty_ok = price_ok and not (levels[:, 1] < 0).any()
    if not finite:
        raise InvalidEvent("non_finite_price", "book level not finite")
    if not price_ok:
        raise InvalidEvent("non_positive_price", "book level price <= 0")
    if not qty_ok:
        raise InvalidEvent("bad_qty", "book level qty < 0")
    return levels


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """A market trade print. `aggressor` is the taker's side."""

    ts_ns: int
    symbol: str
    price: float
    qty: float
    aggressor: Side
    trade_id: int | None = None

    def validate(self) -> "TradeEvent":
        check_price(self.price)
        check_qty(self.qty)
        return self


@dataclass(frozen=True, slots=True)
class BookEvent:
    """An order-book update: a full snapshot (replaces the book) or a diff (qty 0 deletes).

    `bids`/`asks` are float64 arrays of shape (n, 2): price, qty. `first_id`/`last_id` carry
    the exchange's update ids where it has them, for sequence checks.
    """

    ts_ns: int
    symbol: str
    bids: np.ndarray
    asks: np.ndarray
    is_snapshot: bool
    first_id: int | None = None
    last_id: int | None = None
    prev_id: int | None = None

    def validate(self) -> "BookEvent":
        check_levels(self.bids)
        check_levels(self.asks)
        return self


@dataclass(frozen=True, slots=True)
class BarEvent:
    """A completed OHLCV bar from a bars-only source (kline files, exchange history).

    `ts_ns` is the bar's open time; `timeframe` is one of engine.market.bars.TIMEFRAMES.
    """

    ts_ns: int
    symbol: str
    timeframe: str
    open: float
    high: float
    low: float
    close: float
    volume: float

    @property
    def end_ns(self) -> int:
        return self.ts_ns + TIMEFRAME_NS[self.timeframe]

    def validate(self) -> "BarEvent":
        for name in ("open", "high", "low", "close"):
            check_price(getattr(self, name), name)
        check_qty(self.volume, "volume", allow_zero=True)
        if self.high < max(self.open, self.close, self.low) or self.low > min(self.open, self.close):
            raise InvalidEvent("inconsistent_bar", f"o={self.open} h={self.high} l={self.low} c={self.close}")
        return self


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A venue's own state change (connected, stale, reconnecting, ended), with a reason;
    for one symbol's feed, or (symbol None) for the whole venue."""

    ts_ns: int
    state: FeedState
    detail: str = ""
    symbol: str | None = None


Event = TradeEvent | BookEvent | BarEvent | FeedStatus


@dataclass(slots=True)
class RejectCounter:
    """Counts events skipped by reason, so summaries and the UI can show them."""

    by_reason: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str) -> None:
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())
