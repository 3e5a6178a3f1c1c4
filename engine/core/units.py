"""Units and the bar timeframes: the numbers every stage shares, defined once.

Event time is integer nanoseconds since the UTC epoch; prices move in basis points.
Timeframes live here (not with the bar rings) because events, venues and features all need
their lengths, and none of them should import bar aggregation to get them.
"""

from __future__ import annotations

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
BP = 1e4  # basis points per unit of return

TIMEFRAMES: tuple[str, ...] = ("1s", "1m", "1h", "1d")
TIMEFRAME_NS: dict[str, int] = {
    "1s": NS_PER_S,
    "1m": 60 * NS_PER_S,
    "1h": 3600 * NS_PER_S,
    "1d": 86400 * NS_PER_S,
}


def round_trip_cost_bp(taker_fee: float) -> float:
    """What opening and closing at market costs in fees, in bp of notional (two taker fills)."""
    return 2.0 * taker_fee * BP
