"""ccxt's unified structures (OHLCV rows, trades, order books) -> validated engine values.

The live venue's parsing, kept apart from its connection handling: every function here is
pure and raises InvalidEvent with the reason the venue counts (`malformed` for a structure
ccxt handed over broken), so nothing unvalidated reaches the engine.
"""

from __future__ import annotations

import numpy as np

from engine.core.enums import Side
from engine.core.events import BarEvent, InvalidEvent, RejectCounter, check_levels, check_price, check_qty
from engine.core.units import NS_PER_MS, TIMEFRAME_NS


def closed_bars(symbol: str, timeframe: str, rows: list, now_ms: int, rejected: RejectCounter) -> list[BarEvent]:
    """`fetch_ohlcv` rows -> BarEvents, leaving out the bar still forming; bad rows are counted."""
    out = []
    step_ms = TIMEFRAME_NS[timeframe] // NS_PER_MS
    for row in rows:
        try:
            if row[0] + step_ms > now_ms:
                continue
            out.append(BarEvent(int(row[0]) * NS_PER_MS, symbol, timeframe, *(float(x) for x in row[1:6])).validate())
        except InvalidEvent as exc:
            rejected.add(exc.reason)
        except (TypeError, ValueError, IndexError):
            rejected.add("malformed")
    return out


def trade_fields(trade: dict) -> tuple[float, float, Side]:
    """A ccxt trade's price, amount and taker side."""
    price, qty = check_price(trade.get("price")), check_qty(trade.get("amount"))
    try:
        return price, qty, Side(trade.get("side"))
    except ValueError:
        raise InvalidEvent("malformed", f"side={trade.get('side')!r}") from None


def book_levels(book: dict, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """A ccxt order book's top `depth` bids and asks as (n, 2) price/qty arrays; a crossed
    top of book is refused (`crossed_book`)."""
    try:
        bids = np.array([lvl[:2] for lvl in book["bids"][:depth]], dtype=np.float64).reshape(-1, 2)
        asks = np.array([lvl[:2] for lvl in book["asks"][:depth]], dtype=np.float64).reshape(-1, 2)
    except (KeyError, TypeError, ValueError):
        raise InvalidEvent("malformed", "order book") from None
    check_levels(bids)
    check_levels(asks)
    if len(bids) and len(asks) and bids[0, 0] >= asks[0, 0]:
        raise InvalidEvent("crossed_book", f"bid {bids[0, 0]} >= ask {asks[0, 0]}")
    return bids, asks
