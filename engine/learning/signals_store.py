"""Signals in the ledger together with their state arrays: saved when they open a position,
read back when their trade closes or the session restarts.

Two places read them: the restore at start (open positions get their opening signal back)
and the outcome processor (a trade closed after a restart trains on the state its signal
saw). The state is attached only when it was saved under the current feature schema:
training on arrays laid out for another schema would teach the models noise.
"""

from __future__ import annotations

import logging

from engine.decision.ports import StateArrays
from engine.decision.signal import Signal
from storage.ledger import Ledger

log = logging.getLogger("engine.learning.signals_store")


async def load_signal(ledger: Ledger, signal_id: str, schema: str) -> Signal | None:
    """The stored signal, with its state when it fits `schema`; None if unknown."""
    row = await ledger.get_signal(signal_id)
    if row is None:
        return None
    stored = await ledger.load_signal_state(signal_id)
    if stored is None:
        return Signal.from_row(row)
    saved_schema, arrays = stored
    if saved_schema != schema:
        log.warning("signal %s was saved under another feature schema; not training on it", signal_id)
        return Signal.from_row(row)
    return Signal.from_row(row, StateArrays.from_mapping(arrays), saved_schema)


async def save_opening_signal(ledger: Ledger, signal: Signal, pending: list[Signal]) -> None:
    """The signal that opens a position (after the batch of decisions still in memory, so
    the ledger keeps them in time order) and its state arrays, which its trade trains on."""
    if signal.state is not None:
        signal.state_ref = f"signal_states:{signal.id}"
    await ledger.record_signals(pending + [signal])
    if signal.state is not None:
        await ledger.save_signal_state(signal.id, signal.schema, signal.state.as_dict())
