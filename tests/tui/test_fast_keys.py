"""Fast key sequences while the feed runs: Escape typed right after a key that opens a modal
closes that modal, every time. Before the fix, with the feed running, `b` then Escape in
the same instant left the ticket open about one time in four: `b` travelled through the
focused widget's queue before its binding ran, and the Escape reached the ticket while it
was still mounting. The keys are posted as the terminal driver posts them (no waiting
between them), so the race has every chance to show."""

import pytest
from textual import events
from textual.screen import ModalScreen

from tests.helpers import sim_engine
from tui.app import TickdeskApp

TRIALS = 5


def key(name: str) -> events.Key:
    return events.Key(name, name if len(name) == 1 else None)


def spy_pushes(app) -> list[str]:
    """The names of the screens pushed from now on."""
    seen: list[str] = []
    original = app.push_screen

    def spy(screen, *args, **kwargs):
        seen.append(type(screen).__name__)
        return original(screen, *args, **kwargs)

    app.push_screen = spy
    return seen


async def settle(pilot, seen: list[str], pushes: int) -> None:
    """Until `pushes` modals have opened and none is still up, or 5 s of wall time (the feed
    runs; a loaded machine needs more than a fixed pause): the asserts then say which."""
    for _ in range(100):
        await pilot.pause(0.05)
        if len(seen) >= pushes and not isinstance(pilot.app.screen, ModalScreen):
            break
    await pilot.pause()


@pytest.mark.parametrize("opener", ["b", "question_mark"])
async def test_escape_right_after_a_modal_key_closes_it_while_the_feed_runs(tmp_path, opener):
    app = TickdeskApp(sim_engine(str(tmp_path / "f.db")), warmup_s=30, feed=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        app.query_one("#trades").focus()  # a focused widget: the path the race took
        seen = spy_pushes(app)
        for trial in range(TRIALS):
            app.post_message(key(opener))
            app.post_message(key("escape"))
            await settle(pilot, seen, trial + 1)
            assert len(seen) == trial + 1, f"trial {trial}: {seen}"
            assert not isinstance(app.screen, ModalScreen), f"trial {trial}: {type(app.screen).__name__} left open"
        await app.action_quit()


async def test_typed_ahead_keys_after_escape_reach_the_main_screen(tmp_path):
    """b, Esc, ?, Esc, b, Esc in one burst: every modal opens and closes, nothing is left over."""
    app = TickdeskApp(sim_engine(str(tmp_path / "g.db")), warmup_s=30, feed=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.ready.wait()
        seen = spy_pushes(app)
        for name in ("b", "escape", "question_mark", "escape", "b", "escape"):
            app.post_message(key(name))
        await settle(pilot, seen, 3)
        assert seen == ["OrderTicket", "HelpScreen", "OrderTicket"]
        assert not isinstance(app.screen, ModalScreen)
        assert not app.engine.portfolio.positions  # no Escape turned into an Enter, nothing filled
        await app.action_quit()
