"""Event-time clocks.

Engine logic reads time only from a Clock, never from time.time(). The clock is advanced by
the events themselves (event time); a Pacer decides how fast event time may run against the
wall clock: real time (1x), a factor, or as fast as possible ("max").
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Protocol

from engine.core.units import NS_PER_S


class Clock(Protocol):
    def now_ns(self) -> int: ...


class EventClock:
    """Event time: the timestamp of the newest event processed. Never runs backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        if ts_ns > self._now:
            self._now = ts_ns


def parse_speed(text: str | float | None) -> float | None:
    """`max` -> None (no pacing); a positive number (or its text) -> that factor. Raises
    ValueError. Idempotent: an already parsed speed (a factor, or None) comes back as it is."""
    if text is None or isinstance(text, str) and text.strip().lower() == "max":
        return None
    speed = float(text)
    if not speed > 0 or speed == float("inf"):
        raise ValueError(f"speed must be a positive number or 'max', got {text!r}")
    return speed


class Pacer:
    """Holds event time back to `speed` x wall time; with speed None it only yields.

    `wall` is injectable (a monotonic seconds function) so tests need no real sleeping.
    In max mode it yields to the event loop every `yield_every` events so the UI stays live.
    """

    def __init__(
        self,
        speed: float | None,
        wall: Callable[[], float] = time.monotonic,
        yield_every: int = 256,
    ) -> None:
        self.speed = speed
        self._wall = wall
        self._yield_every = yield_every
        self._anchor_wall: float | None = None
        self._anchor_event_ns = 0
        self._count = 0

    def set_speed(self, speed: float | None) -> None:
        self.speed = speed
        self._anchor_wall = None

    def reset(self) -> None:
        """Re-anchor after a pause so the feed does not race to catch up."""
        self._anchor_wall = None

    async def wait_for(self, event_ns: int) -> None:
        self._count += 1
        if self.speed is None:
            if self._count % self._yield_every == 0:
                await asyncio.sleep(0)
            return
        if self._anchor_wall is None:
            self._anchor_wall = self._wall()
            self._anchor_event_ns = event_ns
            return
        due = self._anchor_wall + (event_ns - self._anchor_event_ns) / NS_PER_S / self.speed
        delay = due - self._wall()
        if delay > 0:
            await asyncio.sleep(delay)
        elif self._count % self._yield_every == 0:
            await asyncio.sleep(0)
