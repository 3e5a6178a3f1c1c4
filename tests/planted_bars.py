"""Planted kline files for the bar-fill tests: bars whose every price the test chose, written
in the Bybit layout the klines reader takes (`open_time_ms,timestamp,open,high,low,close,volume`,
symbol and timeframe from the file name), and engines that replay them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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


def bar_engine(tmp_path: Path, files: list[Path], **sections: dict[str, Any]):
    """A models-off engine replaying `files`, with its own ledger under `tmp_path`."""
    sections.setdefault("venue", {})["kind"] = "replay"
    settings = sim_settings(str(tmp_path / "bars.db"), **sections)
    return create_engine(settings, data=files, wall=lambda: 0.0)
