"""Assembles an Engine from settings: venue, ledger path, and (when available) models.
Both front ends (TUI and headless) and the tests build engines through here."""

from __future__ import annotations

from pathlib import Path
from typing import Callable
import time

from engine.config import Settings
from engine.runtime import Engine
from engine.venues.factory import make_venue


def create_engine(
    settings: Settings,
    data: list[Path] | None = None,
    *,
    wall: Callable[[], float] = time.monotonic,
) -> Engine:
    venue = make_venue(settings, data)
    return Engine(settings, venue, db_path=settings.db_path, wall=wall)
