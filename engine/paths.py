"""Every file-system location tickdesk reads or writes by default, in one place.

The shipped defaults are `engine/config.toml`, package data of `engine` (the repository's
top-level `config.toml` is a link to it), so a checkout, an editable install and a wheel all
find them beside this module. Per-user locations come from platformdirs and are computed on
each call, so they follow HOME / XDG_* as the process sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "tickdesk"
CODE_ROOT = Path(__file__).resolve().parent.parent  # the checkout (or site-packages when installed)


def shipped_config() -> Path:
    """The shipped defaults: the only place any setting gets a default value."""
    return Path(__file__).resolve().parent / "config.toml"


def user_config() -> Path:
    """The user's overrides (`~/.config/tickdesk/config.toml` on Linux); optional."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def user_data_dir() -> Path:
    """Where the default workspace lives unless the config names one (`~/.local/share/tickdesk`)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_workspace() -> Path:
    """The workspace used when neither `--workspace` nor `--db` names one."""
    return user_data_dir() / "default"


@dataclass(frozen=True)
class WorkspaceLayout:
    """Where one account's files live. A workspace directory holds its ledger, the models
    trained on it and the lock that keeps a second session out:

        <workspace>/ledger.db (+ -wal, -shm)   <workspace>/models/*.pt   <workspace>/lock

    A ledger named directly (`--db PATH`) keeps its models beside it in `<stem>.models/` and
    its lock in `<name>.lock`; `root` is then None (its folder is not tickdesk's to manage).
    An in-memory ledger (`:memory:`, tests) has neither models nor a lock."""

    root: Path | None
    ledger: Path
    models: Path | None
    lock: Path | None


def workspace_layout(workspace: str, db: str) -> WorkspaceLayout:
    """The layout for `[storage] workspace` and `[storage] db` ("" = unset; db wins)."""
    if db == ":memory:":
        return WorkspaceLayout(None, Path(db), None, None)
    if db:
        ledger = Path(db).expanduser()
        return WorkspaceLayout(None, ledger, ledger.with_name(f"{ledger.stem}.models"),
                               ledger.with_name(f"{ledger.name}.lock"))
    root = Path(workspace).expanduser() if workspace else default_workspace()
    return WorkspaceLayout(root, root / "ledger.db", root / "models", root / "lock")


def recorded_data_dir() -> Path:
    """Recorded market data (`../shared/data` beside the checkout): benchmarks and tests read it,
    nothing copies it in, and an installed wheel has none unless placed there."""
    return (CODE_ROOT.parent / "shared" / "data").resolve()


def user_cache_dir() -> Path:
    """Results that can be recomputed (`tickdesk evaluate`'s finished jobs): `~/.cache/tickdesk`."""
    return Path(platformdirs.user_cache_dir(APP_NAME))
