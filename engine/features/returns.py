"""The trailing-returns block: each symbol's return over fixed lookbacks to the last price.

Why a block of its own (engine/features/schema.py): a bar block shows a move on the bar grid,
while a move over the last L seconds whenever the decision is taken (the SIM's planted echo
is one) needs a return that ends now. Read causally from the bar rings the market already
keeps, so it costs two ring reads per lookback.
"""

from __future__ import annotations

import math

import numpy as np

from engine.core.units import BP, NS_PER_S
from engine.features.schema import LOOKBACKS_S
from engine.market.bars import COL
from engine.market.state import SymbolMarket


def trailing_returns(sym: SymbolMarket | None, now_ns: int) -> tuple[np.ndarray, bool]:
    """One symbol's row of the trailing-returns block and whether any of it is known: for
    each lookback L, the return from the close of the newest bar that closed at least L
    seconds ago to the last price. From the finest bars that have one: 1s bars up to 60 s,
    then 1m, then 1h bars (never bars longer than L: a 5 s return is not to be had from
    minutes). On kline data without 1s bars the 60 s return is from the 1m bar before the one
    that just closed; on hourly bars only the 1 h return is known."""
    out = np.zeros(len(LOOKBACKS_S))
    price = sym.last_price if sym is not None else None
    if price is None or not price > 0:
        return out, False
    rings = sym.bars.rings
    known = False
    for i, lookback in enumerate(LOOKBACKS_S):
        for tf in ("1s", "1m", "1h") if lookback <= 60 else ("1m", "1h"):
            then = _close_before(rings[tf], now_ns, lookback)
            if then is not None:
                out[i], known = math.log(price / then) * BP, True
                break
    return out, known


def _close_before(ring, now_ns: int, lookback_s: int) -> float | None:
    """The close of the ring's newest bar that closed at least `lookback_s` ago (None: the
    ring has no such bar, or its bars are longer than the lookback)."""
    if len(ring) == 0 or lookback_s * NS_PER_S < ring.step_ns:
        return None
    step_s = ring.step_ns / NS_PER_S
    age_s = now_ns / NS_PER_S - (ring.latest()[COL["open_time_s"]] + step_s)  # how long ago the newest closed
    back = max(math.ceil((lookback_s - age_s) / step_s - 1e-9), 0)  # bars older than the newest
    if back >= len(ring):
        return None
    then = ring.last(back + 1)[0, COL["close"]]
    return float(then) if then > 0 else None
