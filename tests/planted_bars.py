"""Planted kline files: bars whose every price the test chose (the bar-fill tests) or drew
with a stated pattern (the learning tests), written in the Bybit layout the klines reader
takes (`open_time_ms,timestamp,open,high,low,close,volume`, symbol and timeframe from the file
name), and engines that replay them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.units import NS_PER_MS
from engine.runtime.wiring import create_engine
from tests.helpers import sim_settings

T0_MS = 1_748_563_200_000  # 2025-05-30 00:00 UTC, on the minute grid
MINUTE_MS = 60_000

Bar = tuple[float, float, float, float]  # open, high, low, close


def open_ns(i: int) -> int:
    """Event time at which planted bar `i` opens (bar i closes at open_ns(i + 1))."""
    return (T0_MS + i * MINUTE_MS) * NS_PER_MS


def write_klines(folder: Path, token: str, bars: list[Bar], volume: float = 10.0) -> Path:
    """`bars` as a 1m kline CSV named for `token` (e.g. "ethusdt" -> ETH/USDT)."""
    path = folder / f"bybit_linear_{token}_1m_planted.csv"
    lines = ["open_time_ms,timestamp,open,high,low,close,volume"]
    for i, (o, h, l, c) in enumerate(bars):
        ms = T0_MS + i * MINUTE_MS
        stamp = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S+00:00")
        lines.append(f"{ms},{stamp},{o!r},{h!r},{l!r},{c!r},{volume!r}")
    path.write_text("\n".join(lines) + "\n")
    return path


def flat_bars(n: int, price: float = 2000.0, step: float = 1.0) -> list[Bar]:
    """`n` quiet bars rising by `step`: each opens at price + i*step, ranges ±1, closes +0.5,
    far inside a 0.5 % stop and a 1 % target."""
    return [(price + i * step, price + i * step + 1.0, price + i * step - 1.0, price + i * step + 0.5)
            for i in range(n)]


def walk_bars(returns: np.ndarray, price: float, wick: np.ndarray) -> list[Bar]:
    """Bars of a walk with these per-bar log returns: each opens at the last close, and its
    high and low lie `wick` (a fraction) beyond the open and close."""
    closes = price * np.exp(np.cumsum(returns))
    opens = np.r_[price, closes[:-1]]
    return [(float(o), float(max(o, c) * (1 + w)), float(min(o, c) * (1 - w)), float(c))
            for o, c, w in zip(opens, closes, wick)]


def lead_lag_files(folder: Path, minutes: int, seed: int, strength: float, vol: float = 0.0015) -> list[Path]:
    """1m ETH and BTC bars, each a walk of `vol` a minute (15 bp: a 1 % stop is ~4 hours of
    moves); ETH's return each minute is `strength` x BTC's return the minute before plus
    independent noise (the correlation is `strength`; 0 is a pure random walk). At 0.8 the
    predictable part of a minute averages ~10 bp, well above the 6 bp round trip."""
    rng = np.random.default_rng(seed)
    btc, noise = rng.normal(0, vol, minutes), rng.normal(0, vol, minutes)
    eth = noise.copy()
    eth[1:] = strength * btc[:-1] + np.sqrt(1 - strength ** 2) * noise[1:]
    folder.mkdir(parents=True, exist_ok=True)
    return [write_klines(folder, "ethusdt", walk_bars(eth, 2500.0, np.abs(rng.normal(0, vol / 3, minutes)))),
            write_klines(folder, "btcusdt", walk_bars(btc, 60000.0, np.abs(rng.normal(0, vol / 3, minutes))))]


def bar_engine(tmp_path: Path, files: list[Path], **sections: dict[str, Any]):
    """A models-off engine replaying `files`, with its own ledger under `tmp_path`."""
    sections.setdefault("venue", {})["kind"] = "replay"
    settings = sim_settings(str(tmp_path / "bars.db"), **sections)
    return create_engine(settings, data=files, wall=lambda: 0.0)
