"""What every market-data venue provides to the engine.

A venue yields validated-or-raw events in event-time order; the engine validates, counts
rejects and applies them. `warmup()` returns history bars (oldest first) for the bar rings,
so the state builder has context from the first decision.
"""

from __future__ import annotations

from typing import AsyncIterator, Protocol, runtime_checkable

from engine.core.events import BarEvent, Event


@runtime_checkable
class Venue(Protocol):
    name: str  # "sim" | "replay" | "live"
    symbols: tuple[str, ...]

    @property
    def label(self) -> str:
        """How the UI labels this market: SIM, REPLAY or LIVE."""
        ...

    async def warmup(self) -> list[BarEvent]: ...

    def events(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...

    def stats(self) -> dict[str, dict[str, int]]:
        """Per-symbol counters the venue itself keeps (e.g. trades, book_updates, gaps)."""
        ...
