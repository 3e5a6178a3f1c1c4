"""Replay parsing benchmark: how fast recorded files turn into engine events (no engine work).

`end_to_end` measures the same files through the whole engine, so the two figures compare.
"""

from __future__ import annotations

import time
from pathlib import Path

from engine.bench.recordings import ws_paths
from engine.core.events import BarEvent, BookEvent, FeedStatus, TradeEvent
from engine.core.hardware import hardware_info
from engine.paths import recorded_data_dir
from engine.venues.replay import ReplayVenue


def default_files() -> list[Path]:
    """The benchmark's own files (both symbols' WebSocket recordings) in the recorded data folder."""
    return ws_paths(recorded_data_dir())


def run_replay_bench(paths: list[Path]) -> dict:
    venue = ReplayVenue(paths)
    kinds = {TradeEvent: "trades", BookEvent: "book", BarEvent: "bars", FeedStatus: "status"}
    by_kind = dict.fromkeys(kinds.values(), 0)
    t0 = time.perf_counter()
    for ev in venue.iter_events():
        by_kind[kinds[type(ev)]] += 1
    seconds = time.perf_counter() - t0
    events = sum(by_kind.values())
    return {
        "files": [p.name for p in paths],
        "bytes": sum(p.stat().st_size for p in paths),
        "events": events,
        "by_kind": by_kind,
        "seconds": seconds,
        "events_per_s": events / seconds if seconds > 0 else None,
        "rejected": dict(venue.rejected.by_reason),
        "per_symbol": venue.stats(),
        "hardware": hardware_info(),
    }


def format_replay_bench(result: dict) -> str:
    hw = result["hardware"]
    rate = result["events_per_s"]
    lines = [
        f"replay parse-only: {len(result['files'])} files, {result['bytes'] / 1e6:.1f} MB",
        f"  events {result['events']:,} ({', '.join(f'{k} {v:,}' for k, v in result['by_kind'].items())})",
        f"  {result['seconds']:.2f} s -> {rate:,.0f} events/s" if rate else f"  {result['seconds']:.2f} s",
        f"  rejected {result['rejected'] or 'none'}",
    ]
    for sym, st in result["per_symbol"].items():
        lines.append(f"  {sym}: " + ", ".join(f"{k} {v:,}" for k, v in st.items()))
    lines.append(f"  hardware: {hw['cpu']}, {hw['cores']} cores, Python {hw['python']}, {hw['os']}")
    return "\n".join(lines)


def end_to_end(paths: list[Path]) -> tuple[int, float]:
    """(events, seconds) for the whole engine on the same files: replay venue, market state,
    risk rules and ledger at max speed, models off (they are benchmarked on their own)."""
    import asyncio

    from engine.config import load_settings
    from engine.runtime.wiring import create_engine

    settings = load_settings(use_user_config=False, overrides={
        "venue": {"kind": "replay"}, "engine": {"speed": "max"}, "models": {"enabled": False},
        "storage": {"db": ":memory:"},
    })
    engine = create_engine(settings, data=paths)

    async def go() -> float:
        await engine.start()
        t0 = time.perf_counter()
        try:
            await engine.run()
        finally:
            seconds = time.perf_counter() - t0
            await engine.close()
        return seconds

    seconds = asyncio.run(go())
    return engine.market.events, seconds
