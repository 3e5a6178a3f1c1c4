"""The snapshots' steady cursor (tests/tui/conftest.py) really holds: the order ticket's
quantity field shows its cursor, and its blink timer stays paused, also after typing
(Textual restarts the blink cycle on every key). If Textual renamed the switch, the fixture
would silently do nothing and the order-ticket snapshot would flicker again."""

from textual.widgets import Input

from tests.helpers import sim_engine
from tui.app import TickdeskApp


async def test_order_ticket_cursor_is_shown_and_does_not_blink(tmp_path):
    app = TickdeskApp(sim_engine(str(tmp_path / "c.db")), warmup_s=30, feed=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.ready.wait()
        await pilot.press("b")
        await pilot.pause()
        qty = app.screen.query_one("#ticket-qty", Input)
        assert qty.has_focus and qty.cursor_blink is False
        for key in (None, "backspace", "1"):
            if key:
                await pilot.press(key)
                await pilot.pause()
            assert qty._cursor_visible and not qty._blink_timer._active.is_set(), key
