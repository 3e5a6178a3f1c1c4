"""Builders shared by tests: settings and engines on the deterministic sim venue, and one
manual round trip through an engine."""

from __future__ import annotations

from typing import Any

from engine.config import Settings, load_settings
from engine.core.enums import Side
from engine.runtime.wiring import create_engine
from engine.trading.portfolio import ClosedTrade


def sim_settings(db: str = ":memory:", **sections: dict[str, Any]) -> Settings:
    over: dict[str, Any] = {"storage": {"db": db}, "engine": {"speed": "max"}, "models": {"enabled": False}}
    for name, values in sections.items():
        over.setdefault(name, {}).update(values)
    return load_settings(overrides=over, use_user_config=False)


def sim_engine(db: str = ":memory:", **sections: dict[str, Any]):
    """A models-off engine on the seeded sim market with a frozen wall clock (deterministic views)."""
    return create_engine(sim_settings(db, **sections), wall=lambda: 0.0)


async def run_round_trip(engine, side: Side = Side.BUY, *, before_s: float = 30.0, hold_s: float = 20.0,
                         qty: float | None = None, keep_open: bool = False) -> ClosedTrade:
    """One manual trade through a fresh engine: start, run `before_s` of event time, open `side`,
    hold `hold_s`, close it and drain the outcome processing (reward, training, ledger).

    Returns the closed trade. The engine is closed afterwards unless `keep_open` (to read its
    ledger; the caller closes it then), and always when a step fails."""
    try:
        await engine.start()
        await engine.run(before_s)
        await engine.submit(side, qty)
        await engine.run(hold_s)
        closed = (await engine.close_position()).closed
        assert closed is not None, "the position opened for the round trip did not close"
        await engine.drain()
    except BaseException:
        await engine.close()
        raise
    if not keep_open:
        await engine.close()
    return closed
