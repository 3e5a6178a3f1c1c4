"""A session's place in its workspace: the scope its positions and account belong to, the
data its models are tagged with, and the folders made owner-only before anything is written.

The layout itself (ledger, models, lock) is engine/paths.py `WorkspaceLayout`; the scope is
storage's `Scope`, so the ledger filters on it without importing the engine.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.config import Settings
from engine.paths import WorkspaceLayout
from engine.runtime.lock import WorkspaceLock
from storage.records import Scope


def session_scope(settings: Settings, data: list[Path] | None) -> Scope:
    """Whose positions and account this session sees: the venue kind, paper or real orders,
    and the data (the replayed files by name; the exchange when live; nothing for SIM, whose
    market is one per workspace)."""
    kind = settings.venue.kind
    mode = "live" if settings.trading.live_orders else "paper"
    if kind == "replay":
        detail = ",".join(sorted(Path(p).name for p in data or ()))
    elif kind == "live":
        detail = settings.venue.exchange
    else:
        detail = ""
    return Scope(kind, mode, detail)


def data_detail(settings: Settings, scope: Scope) -> str:
    """What a checkpoint says its last session was trained on, beyond the venue kind."""
    if scope.venue == "sim":
        return f"seed {settings.sim.seed}, edge {settings.sim.edge}"
    return scope.data


def prepare(layout: WorkspaceLayout) -> None:
    """Create the workspace and models folders owner-only (0700) and tighten existing ones;
    the ledger's own files are made 0600 where it is opened (storage/db.py)."""
    for folder in (layout.root, layout.models):
        if folder is None:
            continue
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o077:
            os.chmod(folder, 0o700)


def private_file(path: Path) -> Path:
    """Create `path` owner-only (0600) if it is missing and tighten it if it is not: the TUI's
    log beside the ledger holds order and position messages, like the ledger itself."""
    os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return path


def claim(settings: Settings) -> WorkspaceLock | None:
    """Prepare the session's workspace and take its lock (raises WorkspaceBusy when another
    process holds it); None for an in-memory ledger, which nothing else can open."""
    layout = settings.layout
    prepare(layout)
    return None if layout.lock is None else WorkspaceLock(layout.lock).acquire()
