"""Faults injected into copies of recorded Binance WebSocket lines, and a replay that says what
it kept.

A recording line is `<local ts ns> <json>`; the faults change, copy or drop lines the way a
corrupt file, a flaky recorder or a foreign stream would. `replay` runs a file through the
replay venue and the market state (with the shipped `[sanity]` limits), as the engine does,
and returns the events applied and every rejection by reason, from both.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.config import load_settings
from engine.core.clock import EventClock
from engine.core.events import BookEvent, TradeEvent
from engine.market.state import MarketState
from engine.venues.replay import ReplayVenue

TRADE, DEPTH = '@trade"', "@depth"


def read_lines(path: Path, n: int) -> list[str]:
    """The first `n` lines of a recording."""
    out = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            out.append(line)
            if len(out) == n:
                break
    return out


def write_lines(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.writelines(lines)
    return path


def indexes(lines: list[str], mark: str) -> list[int]:
    return [i for i, line in enumerate(lines) if mark in line]


def edit(line: str, **data) -> str:
    """`line` with fields of its `data` payload replaced."""
    head, _, body = line.partition(" ")
    obj = json.loads(body)
    obj["data"].update(data)
    return f"{head} {json.dumps(obj)}\n"


def field_of(line: str, key: str):
    return json.loads(line.partition(" ")[2])["data"][key]


def spread(idx: list[int], k: int) -> list[int]:
    """`k` of the indexes, spread evenly over the middle of the list."""
    return [idx[int(len(idx) * (j + 1) / (k + 1))] for j in range(k)]


@dataclass
class Replayed:
    trades: list[int] = field(default_factory=list)  # trade ids applied, in order
    book: list[tuple[bool, int | None]] = field(default_factory=list)  # (snapshot?, u) applied
    rejected: dict[str, int] = field(default_factory=dict)
    prices: list[float] = field(default_factory=list)  # every trade price applied
    crossed_after: int = 0  # book events after which the market's book was crossed
    market: MarketState | None = None


def replay(path: Path, symbol: str = "ETH/USDT") -> Replayed:
    venue = ReplayVenue([path], symbols=(symbol,))
    market = MarketState((symbol,), EventClock(), sanity=load_settings(use_user_config=False).sanity)
    out = Replayed(market=market)
    for ev in venue.iter_events():
        if not market.apply(ev):
            continue
        if isinstance(ev, TradeEvent):
            out.trades.append(ev.trade_id)
            out.prices.append(ev.price)
        elif isinstance(ev, BookEvent):
            out.book.append((ev.is_snapshot, ev.last_id))
            out.crossed_after += market[symbol].book.is_crossed
    out.rejected = dict(venue.rejected.by_reason)
    for reason, n in market.rejected.by_reason.items():
        out.rejected[reason] = out.rejected.get(reason, 0) + n
    assert np.isfinite(out.prices).all()
    return out
