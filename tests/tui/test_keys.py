"""Each keybinding does what it says, through the same engine the CLI builds."""

from engine.core.enums import Side
from tests.helpers import sim_engine
from tui.app import TickdeskApp
from tui.screens.help import HelpScreen
from tui.screens.order_ticket import OrderTicket


def app_for(tmp_path):
    return TickdeskApp(sim_engine(str(tmp_path / "k.db")), warmup_s=30, feed=False)


async def test_buy_ticket_enter_opens_a_position_and_close_records_the_trade(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.press("b")
        assert isinstance(app.screen, OrderTicket)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        pos = app.engine.portfolio.position("ETH/USDT")
        assert pos is not None and pos.side is Side.BUY and pos.qty == 0.5
        table = app.query_one("#positions")
        assert table.row_count == 1
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.engine.portfolio.position("ETH/USDT") is None
        rows = await app.engine.ledger.closed_trades()
        assert len(rows) == 1 and rows[0]["source"] == "manual"
        assert app.query_one("#trades").row_count == 1


async def test_sell_ticket_takes_a_typed_size_and_escape_cancels(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.press("s")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, OrderTicket) and not app.engine.portfolio.positions
        await pilot.press("s")
        ticket_input = app.screen.query_one("#ticket-qty")
        ticket_input.value = ""
        await pilot.press("0", ".", "2", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        pos = app.engine.portfolio.position("ETH/USDT")
        assert pos.side is Side.SELL and pos.qty == 0.2


async def test_bad_size_keeps_the_ticket_open_with_the_reason(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.press("b")
        app.screen.query_one("#ticket-qty").value = "0"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, OrderTicket)
        assert "positive" in str(app.screen.query_one("#ticket-error").render())
        assert not app.engine.portfolio.positions


async def test_pause_help_and_auto(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.press("p")
        assert app.engine.paused
        await pilot.press("p")
        assert not app.engine.paused
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        # Models are disabled in this engine: auto-trading stays off and is shown disabled.
        assert app.check_action("toggle_auto", ()) is None
        await pilot.press("a")
        assert app.engine.auto is False


async def test_q_quits(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.ready.wait()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_live_orders_stay_refused_until_live_is_typed(tmp_path):
    from tui.screens.confirm_live import ConfirmLiveOrders

    engine = sim_engine(str(tmp_path / "live.db"))
    engine.live_orders, engine.orders_confirmed = True, False  # as with --live-orders
    app = TickdeskApp(engine, warmup_s=30, feed=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmLiveOrders)
        await pilot.press("l", "i", "v", "e", "enter")  # wrong case: refused, screen stays
        await pilot.pause()
        assert isinstance(app.screen, ConfirmLiveOrders) and not engine.orders_confirmed
        await pilot.press("escape")
        await pilot.pause()
        assert not engine.orders_confirmed
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not engine.portfolio.positions  # refused: "live orders are not confirmed yet"
