"""Event time and its pacing against the wall clock. The Pacer holds event time back to
`speed` x wall time (1 = real time), re-anchors after a pause instead of racing to catch up,
and in "max" mode never waits but still yields to the UI. Tested on a fake wall clock whose
sleeps advance it: no real time passes."""

from __future__ import annotations

import types

import pytest
from hypothesis import given, strategies as st

from engine.core import clock as clock_module
from engine.core.clock import EventClock, Pacer, parse_speed
from engine.core.units import NS_PER_S

T0 = 1_723_075_200 * NS_PER_S


class FakeWall:
    """A monotonic wall clock; `sleep` records the delay and moves the clock on by it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += max(delay, 0.0)


@pytest.fixture
def wall(monkeypatch) -> FakeWall:
    fake = FakeWall()
    monkeypatch.setattr(clock_module, "asyncio", types.SimpleNamespace(sleep=fake.sleep))
    return fake


def at(seconds: float) -> int:
    return T0 + int(seconds * NS_PER_S)


async def test_real_time_holds_each_event_until_its_wall_time(wall):
    pacer = Pacer(1.0, wall=wall)
    await pacer.wait_for(at(0))                   # the first event anchors; nothing to wait for
    assert wall.sleeps == []
    await pacer.wait_for(at(2.0))
    assert wall.sleeps == [pytest.approx(2.0)] and wall.now == pytest.approx(1002.0)
    wall.now += 0.5                               # the engine spent 0.5 s on its own work
    await pacer.wait_for(at(3.0))
    assert wall.sleeps[-1] == pytest.approx(0.5), "only the rest of the gap is waited"


async def test_a_speed_factor_divides_the_wait(wall):
    pacer = Pacer(10.0, wall=wall)
    await pacer.wait_for(at(0))
    await pacer.wait_for(at(60))
    assert wall.sleeps == [pytest.approx(6.0)]


async def test_behind_schedule_it_does_not_wait_but_still_yields(wall):
    pacer = Pacer(1.0, wall=wall, yield_every=4)
    await pacer.wait_for(at(0))
    wall.now += 100.0                             # a slow consumer: wall time ran ahead
    for i in range(1, 8):
        await pacer.wait_for(at(i))
    assert wall.sleeps == [0, 0], "no delay; a plain yield every 4th event so the UI stays live"


async def test_after_a_pause_it_reanchors_instead_of_racing_or_stalling(wall):
    pacer = Pacer(1.0, wall=wall)
    await pacer.wait_for(at(0))
    await pacer.wait_for(at(1))
    wall.now += 300.0                             # paused for five minutes
    pacer.reset()
    await pacer.wait_for(at(2))                   # re-anchors here: no wait
    await pacer.wait_for(at(3))
    assert wall.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]


async def test_changing_speed_applies_from_the_next_event(wall):
    pacer = Pacer(1.0, wall=wall)
    await pacer.wait_for(at(0))
    await pacer.wait_for(at(10))
    pacer.set_speed(5.0)
    await pacer.wait_for(at(11))                  # re-anchored: no catch-up or penalty
    await pacer.wait_for(at(21))
    assert wall.sleeps == [pytest.approx(10.0), pytest.approx(2.0)]
    pacer.set_speed(None)
    for i in range(22, 600):
        await pacer.wait_for(at(i))
    assert all(d == 0 for d in wall.sleeps[2:]), "max: never waits"


async def test_max_speed_never_waits_and_yields_every_n_events(wall):
    pacer = Pacer(None, wall=wall, yield_every=256)
    for i in range(1024):
        await pacer.wait_for(at(i * 3600))        # an hour of event time per event
    assert wall.sleeps == [0, 0, 0, 0] and wall.now == 1000.0


@given(speed=st.sampled_from([0.5, 1.0, 3.0, 100.0]),
       gaps=st.lists(st.floats(0, 30), min_size=1, max_size=30),
       work=st.lists(st.floats(0, 5), min_size=30, max_size=30))
async def test_event_time_never_runs_ahead_of_speed_times_wall(speed, gaps, work):
    fake = FakeWall()
    saved = clock_module.asyncio
    clock_module.asyncio = types.SimpleNamespace(sleep=fake.sleep)
    try:
        pacer = Pacer(speed, wall=fake)
        await pacer.wait_for(at(0))
        start, t = fake.now, 0.0
        for gap, spent in zip(gaps, work):
            t += gap
            fake.now += spent                     # the engine's own processing time
            before = fake.now
            await pacer.wait_for(at(t))
            assert fake.now >= start + t / speed - 1e-6          # not released early
            assert fake.now <= max(before, start + t / speed) + 1e-6  # and not held longer than due
    finally:
        clock_module.asyncio = saved


def test_event_clock_never_runs_backwards():
    c = EventClock(at(0))
    c.advance_to(at(5))
    c.advance_to(at(3))                           # a late event does not move time back
    assert c.now_ns() == at(5)


@pytest.mark.parametrize("text, speed", [("max", None), (" MAX ", None), ("1", 1.0), ("2.5", 2.5), (4, 4.0)])
def test_parse_speed(text, speed):
    assert parse_speed(text) == speed
    assert parse_speed(speed) == speed, "an already parsed speed comes back as it is"


@pytest.mark.parametrize("text", ["0", "-1", "inf", "fast", ""])
def test_parse_speed_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_speed(text)
