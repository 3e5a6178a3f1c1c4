"""Snapshots of the main screen, the order ticket and help at 80x24 and 120x40.

Deterministic: seeded sim market run to a fixed event time before the first frame, the feed
stopped, the wall clock frozen (events/s shows a dash), an in-memory ledger, no animation."""

import pytest

from tests.helpers import sim_engine
from tui.app import TickdeskApp

SIZES = [(80, 24), (120, 40)]


def make_app():
    return TickdeskApp(sim_engine(":memory:"), warmup_s=240, feed=False)


async def wait_ready(pilot):
    await pilot.app.ready.wait()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=wait_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_order_ticket(snap_compare, size):
    async def open_ticket(pilot):
        await wait_ready(pilot)
        await pilot.press("b")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=open_ticket)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_screen(snap_compare, size):
    async def open_help(pilot):
        await wait_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=open_help)
