"""Decision-time context stored with every signal: recent volatility and where price sits in
its recent range. Not model inputs; the reward (normalised preset) and the replay strata of
a closed trade read them, so they must use only what was known when the signal was made."""

from __future__ import annotations

import numpy as np

from engine.core.units import BP
from engine.market.bars import COL
from engine.market.state import MarketState


def entry_volatility_bp(market: MarketState, symbol: str, bars: int = 60) -> float | None:
    """1m log-return volatility in bp over the last hour; None with fewer than 5 bars."""
    closes = market[symbol].bars.rings["1m"].last(bars + 1)[:, COL["close"]]
    if len(closes) < 5:
        return None
    r = np.diff(np.log(closes))
    return float(np.std(r) * BP)


def range_position(market: MarketState, symbol: str, bars: int = 60) -> float | None:
    """Where the last 1m close sits in the last hour's high-low range (0 = at the low,
    1 = at the high); None without 5 bars or with a flat range."""
    recent = market[symbol].bars.rings["1m"].last(bars)
    if len(recent) < 5:
        return None
    low, high = float(recent[:, COL["low"]].min()), float(recent[:, COL["high"]].max())
    if high <= low:
        return None
    return (float(recent[-1, COL["close"]]) - low) / (high - low)
