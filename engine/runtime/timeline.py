"""One timeline per workspace scope: a session that restores open positions continues event
time after the ledger's last fill of its scope, so hold times are never negative and the
risk rules' max hold sees the real age of a restored position.

SIM and replay would otherwise restart their clock where the config or the data begins:
SIM's start moves to the first whole second after the ledger's last fill (the same seed
gives the same market, later); a replay is shifted as it streams (`ShiftedVenue`) so its
first event comes a second after that fill, and the shift is said in a note. A restored
position so keeps its age: it is as old as the event time it has lived through. Live runs
on the exchange's clock, which is always later.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Callable
from typing import AsyncIterator

from engine.config import Settings
from engine.core.events import Event
from engine.core.units import NS_PER_S
from engine.venues.base import Venue
from engine.venues.sim import SimVenue

def seconds_after(start_ns: int, last_ns: int) -> int:
    """Whole seconds that put `start_ns` at least a second after `last_ns` (0 if it is)."""
    gap = last_ns + NS_PER_S - start_ns
    return 0 if gap <= 0 else -(-gap // NS_PER_S)


def continue_sim(settings: Settings, venue: SimVenue, last_ns: int) -> tuple[SimVenue, int]:
    """The SIM venue starting after `last_ns`, and the seconds it moved (0: `venue` itself)."""
    seconds = seconds_after(venue.start_ns, last_ns)
    if seconds == 0:
        return venue, 0
    sim = settings.sim.model_copy(update={"start": settings.sim.start + timedelta(seconds=seconds)})
    return SimVenue(sim, venue.symbols), seconds


class ShiftedVenue:
    """A venue whose events are moved by whole seconds so the first one comes after `last_ns`
    (nothing moves when it already does). Everything else is the wrapped venue's."""

    def __init__(self, venue: Venue, last_ns: int, on_shift: Callable[[int], None]) -> None:
        self._venue = venue
        self._last_ns = last_ns
        self._on_shift = on_shift  # called once with the seconds moved, at the first event
        self.shift_ns = 0

    def __getattr__(self, name: str):
        return getattr(self._venue, name)

    async def events(self) -> AsyncIterator[Event]:
        first = True
        async for event in self._venue.events():
            if first:
                first = False
                seconds = seconds_after(event.ts_ns, self._last_ns)
                self.shift_ns = seconds * NS_PER_S
                if seconds:
                    self._on_shift(seconds)
            yield dataclasses.replace(event, ts_ns=event.ts_ns + self.shift_ns) if self.shift_ns else event
