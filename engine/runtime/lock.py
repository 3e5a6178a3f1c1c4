"""One session process per workspace: an exclusive `fcntl.flock` on the workspace's lock file.

Two sessions on one ledger each keep their own portfolio and overwrite each other's balance,
so the second is refused (`WorkspaceBusy`, which the CLI turns into exit 2 naming the
holder's pid). The lock is the kernel's: it goes with the process, so a kill -9 never leaves
a stale lock behind, and the pid written in the file is only there to be named. Read-only
commands (`tickdesk trades`, `tickdesk db stats`) never take it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class WorkspaceBusy(RuntimeError):
    """Another process holds the workspace."""


class WorkspaceLock:
    """Held from `acquire()` to `release()` (also a context manager)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> "WorkspaceLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkspaceBusy(f"ledger in use by pid {holder} (lock {self.path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "WorkspaceLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
