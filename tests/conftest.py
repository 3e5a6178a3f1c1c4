"""Shared fixtures. Recorded market data lives in ../shared/data beside the checkout; tests
that need it skip with a clear reason where it is absent (it is never copied in)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


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
