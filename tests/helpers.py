"""Builders shared by tests: settings and engines on the deterministic sim venue."""

from __future__ import annotations

from typing import Any

from engine.config import Settings, load_settings
from engine.session import create_engine


def sim_settings(db: str = ":memory:", **sections: dict[str, Any]) -> Settings:
    over: dict[str, Any] = {"storage": {"db": db}, "engine": {"speed": "max"}, "models": {"enabled": False}}
    for name, values in sections.items():
        over.setdefault(name, {}).update(values)
    return load_settings(overrides=over, use_user_config=False)


def sim_engine(db: str = ":memory:", frozen_wall: bool = True, **sections: dict[str, Any]):
    settings = sim_settings(db, **sections)
    return create_engine(settings, wall=(lambda: 0.0) if frozen_wall else None) if frozen_wall else create_engine(settings)
