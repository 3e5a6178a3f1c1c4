"""Builders shared by tests: settings and engines on the deterministic sim venue."""

from __future__ import annotations

from typing import Any

from engine.config import Settings, load_settings
from engine.runtime.wiring import create_engine


def sim_settings(db: str = ":memory:", **sections: dict[str, Any]) -> Settings:
    over: dict[str, Any] = {"storage": {"db": db}, "engine": {"speed": "max"}, "models": {"enabled": False}}
    for name, values in sections.items():
        over.setdefault(name, {}).update(values)
    return load_settings(overrides=over, use_user_config=False)


def sim_engine(db: str = ":memory:", **sections: dict[str, Any]):
    """A models-off engine on the seeded sim market with a frozen wall clock (deterministic views)."""
    return create_engine(sim_settings(db, **sections), wall=lambda: 0.0)
