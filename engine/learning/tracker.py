"""Which signal opened which position, so a closed trade trains the models that made it.

In memory for speed; the ledger holds the same links (written in the fill's transaction), so
the restore at start rebuilds it and open positions still know their signal after a restart.
"""

from __future__ import annotations

from engine.decision.signal import Signal


class SignalPositionTracker:
    def __init__(self) -> None:
        self._by_position: dict[str, Signal] = {}

    def register(self, position_id: str, signal: Signal) -> None:
        """Keep the opening signal (with its state) while its position is open."""
        self._by_position[position_id] = signal

    def take(self, position_id: str) -> Signal | None:
        """The signal a closing position was opened by, removed from the tracker."""
        return self._by_position.pop(position_id, None)

    def __len__(self) -> int:
        return len(self._by_position)
