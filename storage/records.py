"""The plain types the ledger reads and writes by attribute (storage imports nothing from the
engine): a signal as stored, and the scope a session's positions and account belong to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol


class Scope(NamedTuple):
    """Whose positions and account a session sees (migration 4): the venue kind (sim |
    replay | live), the order mode (paper | live: real orders) and the data (replay: the
    recorded files; live: the exchange; sim: ""). A session never reads or writes another
    scope's positions or balance, so live orders never close a paper position."""

    venue: str = "sim"
    mode: str = "paper"
    data: str = ""

    def describe(self) -> str:
        return f"{self.venue} ({self.mode}{', ' + self.data if self.data else ''})"


class SignalRecord(Protocol):
    """What the ledger stores of a signal (the engine's `Signal` has these attributes)."""

    id: str
    ts_ns: int
    symbol: str
    kind: str
    action: str
    venue: str
    confidence: float | None
    contributions: Mapping[str, float]
    outputs: Mapping[str, Any]
    model_versions: Mapping[str, int]
    state_ref: str | None
    decision: str | None      # buy | sell | hold | exit
    policy: str               # greedy | explore
    propensity: float | None
    p_win: float | None
