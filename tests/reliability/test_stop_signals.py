"""Each stop signal a headless session can get (SIGTERM from `systemctl stop` or `docker
stop`, SIGHUP from a closed terminal, SIGINT from Ctrl-C) asks the engine to stop once and is
named in the summary's `stopped_by`; a second signal while stopping changes nothing; outside
the `with` block the process's own handling is back. The whole drain-save-exit path is run
by a real process on SIGTERM in test_shutdown_and_lock.py."""

import asyncio
import os
import signal

import pytest

from engine.runtime.shutdown import STOP_SIGNALS, StopOnSignals


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
async def test_a_stop_signal_stops_the_engine_once_and_is_named(sig):
    stops = []
    before = signal.getsignal(sig)
    with StopOnSignals(lambda: stops.append(1)) as signals:
        os.kill(os.getpid(), sig)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if stops:
                break
        os.kill(os.getpid(), sig)  # a second one while stopping
        await asyncio.sleep(0.05)
    assert stops == [1] and signals.received == sig.name
    assert signal.getsignal(sig) == before
