"""Shared fixtures. Recorded market data lives in ../shared/data beside the checkout; tests
that need it skip with a clear reason where it is absent (it is never copied in).

Hermetic by default: the developer's own files never reach a test. Every test runs with its
own empty HOME and XDG_CONFIG_HOME / XDG_DATA_HOME / XDG_CACHE_HOME / XDG_STATE_HOME (set in
the environment, so CLI subprocesses inherit them), which is where `engine.paths` looks for
the user config (`<config>/tickdesk/config.toml`) and puts the default ledger and
checkpoints (`<data>/tickdesk/`). Collection runs under a session-wide empty home too, and
live-trading credentials are removed from the environment.

Hypothesis: profile "ci" (derandomized, no example database, no deadline, failure blobs
printed) when CI is set, "dev" (no deadline: a loaded 2-core machine is not a failure)
otherwise; HYPOTHESIS_PROFILE picks one explicitly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()

XDG_DIRS = {"XDG_CONFIG_HOME": ".config", "XDG_DATA_HOME": ".local/share", "XDG_CACHE_HOME": ".cache",
            "XDG_STATE_HOME": ".local/state"}
SCRUBBED = ("TICKDESK_API_KEY", "TICKDESK_API_SECRET")
# The developer's real home, as the process found it; tests check nothing resolves under it.
REAL_HOME = Path(os.environ.get("HOME") or Path.home()).resolve()

hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, database=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _in_ci() else "dev"))


def _point_home_at(home: Path, setenv) -> None:
    setenv("HOME", str(home))
    for var, sub in XDG_DIRS.items():
        setenv(var, str(home / sub))


_saved_env: dict[str, str | None] = {}
_session_home: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """An empty home for collection and session fixtures (module-level code runs before any
    function fixture)."""
    global _session_home
    _session_home = Path(tempfile.mkdtemp(prefix="tickdesk-session-home-"))
    for var in ("HOME", *XDG_DIRS, *SCRUBBED):
        _saved_env[var] = os.environ.get(var)
    for var in SCRUBBED:
        os.environ.pop(var, None)
    _point_home_at(_session_home, os.environ.__setitem__)


def pytest_unconfigure(config: pytest.Config) -> None:
    for var, value in _saved_env.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    if _session_home is not None:
        shutil.rmtree(_session_home, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh empty HOME and XDG dirs for this test (not inside `tmp_path`, which tests list)."""
    home = tmp_path_factory.mktemp("home")
    _point_home_at(home, monkeypatch.setenv)
    for var in SCRUBBED:
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"recorded market data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def torch_one_thread():
    """Fixed torch seed and one intra-op thread for model tests (tiny nets on 2 cores: a
    second OpenMP thread only adds contention); restores the thread count afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
