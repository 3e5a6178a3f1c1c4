"""`tickdesk bench state`: how long one full state build takes on real recorded data.

Two workloads, both from the recorded data folder (engine/bench/recordings.py names the files):
- "book": Binance spot ETHUSDT + BTCUSDT WebSocket recordings (trades + L2 diff depth,
  ~10 min), replayed through MarketState; a state is built every `step_s` of event time.
  This exercises the tick, 1s, COB and liquidity paths.
- "bars": 30 days of Bybit 1m ETH + BTC klines, warmed from the first 300 bars per ring and
  then replayed bar by bar with a build after every bar. Every build sees a new 1m bar,
  so the pivot, regime and 1m blocks are recomputed each time (their worst case).
Times exclude the CNN forward pass, which runs on `State.market_tensor` afterwards.
The data is read by the venue parsers (`ReplayVenue`, `read_bars`), as a replay would read it.
"""

from __future__ import annotations

import heapq
import time
from itertools import islice
from pathlib import Path

import numpy as np

from engine.bench.recordings import KLINES_1M, WS_RECORDINGS, ws_paths
from engine.core.clock import EventClock
from engine.core.hardware import hardware_info
from engine.core.units import NS_PER_S
from engine.market.state import MarketState
from engine.features.schema import SCHEMA
from engine.features.builder import StateBuilder
from engine.paths import recorded_data_dir
from engine.venues.klines import read_bars
from engine.venues.replay import ReplayVenue


def _percentiles(samples: list[float]) -> dict:
    a = np.array(samples) * 1e3
    return {"n": len(a), "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max())}


def bench_book(n: int, data: Path, step_s: float = 0.3) -> dict:
    events = list(ReplayVenue(ws_paths(data)).iter_events())
    market = MarketState(tuple(WS_RECORDINGS), EventClock())
    builder = StateBuilder()
    times: list[float] = []
    next_ns = None
    for ev in events:
        market.apply(ev)
        if next_ns is None:
            next_ns = ev.ts_ns + 60 * NS_PER_S  # one minute of book and trades first
        if ev.ts_ns >= next_ns:
            t0 = time.perf_counter()
            builder.build(market, {"side": 0})
            times.append(time.perf_counter() - t0)
            next_ns += int(step_s * NS_PER_S)
            if len(times) >= n:
                break
    return _percentiles(times)


def bench_bars(n: int, data: Path) -> dict:
    streams = {sym: list(islice(read_bars(data / f, sym), n + 300)) for sym, f in KLINES_1M.items()}
    market = MarketState(tuple(KLINES_1M), EventClock())
    market.load_history([b for bars in streams.values() for b in bars[:300]])
    builder = StateBuilder()
    times: list[float] = []
    for ev in heapq.merge(*(bars[300:] for bars in streams.values()), key=lambda b: b.end_ns):
        market.apply(ev)
        if ev.symbol == "BTC/USDT":  # both symbols' bar for this minute are in
            t0 = time.perf_counter()
            builder.build(market, {"side": 0})
            times.append(time.perf_counter() - t0)
    return _percentiles(times)


def run_state_bench(n: int = 2000, data: Path | None = None) -> dict:
    """Build-time percentiles on both workloads, the state dimension and the hardware."""
    data = data or recorded_data_dir()
    if not data.is_dir():
        raise FileNotFoundError(f"recorded market data not found at {data}")
    return {
        "dim": SCHEMA.dim,
        "market_dim": SCHEMA.market_dim,
        "market_tensor": [SCHEMA.market_channels, SCHEMA.market_steps],
        "schema": SCHEMA.fingerprint,
        "book": bench_book(n, data=data),
        "bars": bench_bars(n, data=data),
        "hardware": hardware_info(),
    }


def format_state_bench(result: dict) -> str:
    hw = result["hardware"]
    lines = [
        f"state dim {result['dim']} ({result['market_dim']:,} + {result['dim'] - result['market_dim']} position features), market tensor "
        f"{result['market_tensor'][0]}x{result['market_tensor'][1]}, schema {result['schema']}",
    ]
    for name, label in (("book", "ticks + L2 book (Binance spot WS)"), ("bars", "1m bars, new bar every build (Bybit)")):
        r = result[name]
        lines.append(f"{label:40s} n={r['n']:5d}  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  max {r['max_ms']:.3f} ms")
    lines.append(f"hardware: {hw['cpu']}, {hw['cores']} cores, Python {hw['python']}")
    return "\n".join(lines)
