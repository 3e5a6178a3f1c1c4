"""Stopping a session cleanly on SIGTERM, SIGHUP and SIGINT (`systemctl stop`, `docker
stop`, `timeout`, a closed terminal, Ctrl-C): the signal only asks the engine to stop; the
session then ends the way a finished run does (training drained within a bound, checkpoints
saved, summary written) and the process exits 0. A second signal while stopping is noted and
changes nothing: the drain is already bounded.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Callable

log = logging.getLogger("engine.runtime.shutdown")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
DRAIN_TIMEOUT_S = 60.0  # pending training gets this long after a stop; what is left stays pending in the ledger


class StopOnSignals:
    """While entered (inside a running loop, main thread), a stop signal calls `stop` once;
    `received` names the first signal (None when the run ended by itself)."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop = stop
        self.received: str | None = None
        self._installed: list[tuple[signal.Signals, object]] = []  # (signal, the handler it had)

    def __enter__(self) -> "StopOnSignals":
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            before = signal.getsignal(sig)
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
                continue
            self._installed.append((sig, before))
        return self

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.received is not None:
            log.warning("%s while stopping: still draining training and saving checkpoints", sig.name)
            return
        self.received = sig.name
        log.warning("%s: stopping the feed, draining training, saving checkpoints", sig.name)
        self._stop()

    def __exit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig, before in self._installed:
            loop.remove_signal_handler(sig)
            # Back to what it was (asyncio.run's own Ctrl-C handler, which cancels the main
            # task, rather than the bare KeyboardInterrupt remove_signal_handler leaves).
            signal.signal(sig, before if before is not None else signal.SIG_DFL)
        self._installed.clear()


async def drain_bounded(drain: Callable[[], "asyncio.Future | object"], timeout_s: float = DRAIN_TIMEOUT_S) -> bool:
    """Await `drain()` for at most `timeout_s`; False when it did not finish (the rest stays
    pending in the ledger and is trained at the next start)."""
    try:
        await asyncio.wait_for(drain(), timeout_s)
    except asyncio.TimeoutError:
        log.warning("training still pending after %.0f s; it stays queued in the ledger for the next start", timeout_s)
        return False
    return True
