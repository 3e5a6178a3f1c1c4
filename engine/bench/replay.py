"""`tickdesk bench replay`: where the time of a replay goes, stage by stage, against a floor.

Four stages on the same files, in one process and run, each timed on its own:
- read: gunzip and split into lines (what any reader of the files pays);
- json: the standard library's `json.loads` of every line's payload (the lines already in memory);
- venue: the replay venue's own iteration into engine events (its parser and book sync);
- pipeline: the whole engine at max speed, models off (venue, market state, risk, ledger).
The floor is read + json: reading and parsing each line once with the standard library.
Each stage is reported as a ratio to that floor, so a faster parser in the venue shows as
progress rather than moving the yardstick. With `runs` > 1 every stage runs that many
times and the figures are the fastest run plus the range (the machine may be shared).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from pathlib import Path

from engine.bench.recordings import ws_paths
from engine.core.events import BarEvent, BookEvent, FeedStatus, TradeEvent
from engine.core.hardware import hardware_info
from engine.paths import recorded_data_dir
from engine.venues.replay import ReplayVenue

STAGES = ("read", "json", "venue", "pipeline")


def default_files() -> list[Path]:
    """The benchmark's own files (both symbols' WebSocket recordings) in the recorded data folder."""
    return ws_paths(recorded_data_dir())


def _read_lines(paths: list[Path]) -> list[str]:
    lines: list[str] = []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            lines.extend(fh)
    return lines


def _json_floor(lines: list[str]) -> int:
    """stdlib json.loads of each line's payload (after `<ts_ns> `); returns lines parsed."""
    loads = json.loads
    n = 0
    for line in lines:
        body = line.partition(" ")[2]
        if body.strip():
            loads(body)
            n += 1
    return n


def _venue(paths: list[Path]) -> tuple[ReplayVenue, dict[str, int]]:
    venue = ReplayVenue(paths)
    kinds = {TradeEvent: "trades", BookEvent: "book", BarEvent: "bars", FeedStatus: "status"}
    by_kind = dict.fromkeys(kinds.values(), 0)
    for ev in venue.iter_events():
        by_kind[kinds[type(ev)]] += 1
    return venue, by_kind


def pipeline(paths: list[Path]) -> tuple[int, float]:
    """(events, seconds) for the whole engine on the files: replay venue, market state,
    risk rules and ledger at max speed, models off (they are benchmarked on their own)."""
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


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def run_replay_bench(paths: list[Path], runs: int = 1) -> dict:
    """Seconds per stage (fastest of `runs`, with the range), events, and ratios to the floor."""
    if runs < 1:
        raise ValueError("runs must be >= 1")
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(runs):
        lines, t = _timed(_read_lines, paths)
        times["read"].append(t)
        parsed, t = _timed(_json_floor, lines)
        times["json"].append(t)
        del lines
        (venue, by_kind), t = _timed(_venue, paths)
        times["venue"].append(t)
        events, t = pipeline(paths)
        times["pipeline"].append(t)
    best = {s: min(v) for s, v in times.items()}
    floor = best["read"] + best["json"]
    return {
        "files": [p.name for p in paths],
        "bytes": sum(p.stat().st_size for p in paths),
        "lines": parsed,
        "events": sum(by_kind.values()),
        "by_kind": by_kind,
        "pipeline_events": events,
        "runs": runs,
        "seconds": best,
        "seconds_range": {s: [min(v), max(v)] for s, v in times.items()},
        "floor_seconds": floor,
        "ratio_to_floor": {s: best[s] / floor for s in ("venue", "pipeline")},
        "ratio_to_json": {s: best[s] / best["json"] for s in ("venue", "pipeline")},
        "events_per_s": {s: sum(by_kind.values()) / best[s] for s in ("venue", "pipeline")},
        "rejected": dict(venue.rejected.by_reason),
        "per_symbol": venue.stats(),
        "hardware": hardware_info(),
    }


def format_replay_bench(result: dict) -> str:
    hw, sec, rng = result["hardware"], result["seconds"], result["seconds_range"]
    lines = [
        f"replay: {len(result['files'])} files, {result['bytes'] / 1e6:.1f} MB, {result['lines']:,} lines, "
        f"{result['events']:,} events ({', '.join(f'{k} {v:,}' for k, v in result['by_kind'].items())})",
        f"  best of {result['runs']} run(s); floor = read + json = {result['floor_seconds']:.3f} s",
    ]
    labels = {"read": "gunzip + line split", "json": "stdlib json.loads per line", "venue": "replay venue parse",
              "pipeline": "full pipeline, models off"}
    for s in STAGES:
        extra = f"  {result['ratio_to_floor'][s]:.2f}x floor" if s in result["ratio_to_floor"] else ""
        span = f" (range {rng[s][0]:.3f}-{rng[s][1]:.3f})" if result["runs"] > 1 else ""
        lines.append(f"  {labels[s]:28s} {sec[s]:7.3f} s{span}{extra}")
    lines.append(f"  rejected {result['rejected'] or 'none'}")
    for sym, st in result["per_symbol"].items():
        lines.append(f"  {sym}: " + ", ".join(f"{k} {v:,}" for k, v in st.items()))
    lines.append(f"  hardware: {hw['cpu']}, {hw['cores']} cores, Python {hw['python']}, {hw['os']}")
    return "\n".join(lines)
