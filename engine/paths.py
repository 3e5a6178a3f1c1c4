"""Every file-system location tickdesk reads or writes by default, in one place.

The shipped defaults are `engine/config.toml`, package data of `engine` (the repository's
top-level `config.toml` is a link to it), so a checkout, an editable install and a wheel all
find them beside this module. Per-user locations come from platformdirs and are computed on
each call, so they follow HOME / XDG_* as the process sees them.
"""

from __future__ import annotations

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
    """Where the ledger and checkpoints go unless the config names them (`~/.local/share/tickdesk`)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_ledger() -> Path:
    """The SQLite ledger when `[storage] db` is empty."""
    return user_data_dir() / "tickdesk.db"


def default_checkpoint_dir() -> Path:
    """Model checkpoints when `[models] checkpoint_dir` is empty."""
    return user_data_dir() / "checkpoints"


def recorded_data_dir() -> Path:
    """Recorded market data (`../shared/data` beside the checkout): benchmarks and tests read it,
    nothing copies it in, and an installed wheel has none unless placed there."""
    return (CODE_ROOT.parent / "shared" / "data").resolve()


def user_cache_dir() -> Path:
    """Results that can be recomputed (`tickdesk evaluate`'s finished jobs): `~/.cache/tickdesk`."""
    return Path(platformdirs.user_cache_dir(APP_NAME))
