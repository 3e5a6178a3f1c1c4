"""Builds the configured venue. Replay and live are imported only when asked for, so the
sim path never loads ccxt."""

from __future__ import annotations

from pathlib import Path

from engine.config import ConfigError, Settings
from engine.venues.base import Venue


def make_venue(settings: Settings, data: list[Path] | None = None) -> Venue:
    kind = settings.venue.kind
    symbols = settings.venue.symbols
    if kind == "sim":
        from engine.venues.sim import SimVenue

        return SimVenue(settings.sim, symbols)
    if kind == "replay":
        if not data:
            raise ConfigError("--venue replay needs at least one --data PATH")
        missing = [str(p) for p in data if not Path(p).exists()]
        if missing:
            raise ConfigError(f"--data: file not found: {', '.join(missing)}")
        from engine.venues.replay import ReplayVenue

        return ReplayVenue([Path(p) for p in data], symbols=symbols)
    from engine.venues.live import LiveVenue

    return LiveVenue(settings.venue.exchange, symbols, stale_after_s=settings.engine.stale_after_s)
