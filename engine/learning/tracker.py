"""SignalPositionTracker (seed "Signal-Position Linking"): which signal opened which position.

In memory for speed; the ledger holds the same links (written in the fill's transaction), so
`restore` rebuilds it after a restart and open positions still know their signal."""

from __future__ import annotations

from typing import Any


class SignalPositionTracker:
    def __init__(self) -> None:
        self.active_trades: dict[str, dict[str, Any]] = {}

    def register_signal(self, signal_id: str, signal_data: dict[str, Any], position_id: str) -> None:
        """Store the signal's context when its position opens."""
        self.active_trades[position_id] = {
            "signal_id": signal_id,
            "signal": signal_data,
            "entry_ns": signal_data.get("ts_ns"),
            "market_state": signal_data.get("state"),
            "models_used": dict(signal_data.get("contributions", {})),
        }

    def get_signal_for_position(self, position_id: str) -> dict[str, Any] | None:
        """The signal a closing position was opened by (removed from the tracker)."""
        return self.active_trades.pop(position_id, None)

    def restore(self, entries: dict[str, dict[str, Any]]) -> None:
        self.active_trades.update(entries)

    def __len__(self) -> int:
        return len(self.active_trades)
