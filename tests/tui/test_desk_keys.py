"""Every key and palette command of the desk, through the same engine the CLI builds:
the ticket (live quote, preview, a refusal that keeps it open), timeframe, speed, tabs,
zoom, inspector, evaluation, export, the log filter and the end of a replay."""

from __future__ import annotations

import csv
import json

import pytest
from textual.command import CommandList
from textual.widgets import TabbedContent

from engine.views.evaluation_file import latest_evaluation_path
from tests.helpers import sim_engine
from tests.planted_bars import bar_engine, flat_bars, write_klines
from tui.app import TickdeskApp
from tui.commands import app_commands
from tui.screens.evaluation import EvaluationScreen
from tui.screens.help import HelpScreen
from tui.screens.inspector import TradeInspector
from tui.screens.order_ticket import OrderTicket
from tui.widgets.chart import CandleChart


def app_for(tmp_path, name="k.db", **kwargs):
    return TickdeskApp(sim_engine(str(tmp_path / name)), warmup_s=30, feed=False, **kwargs)


def text(widget) -> str:
    return str(widget.render())


async def settled(app, pilot):
    await app.workers.wait_for_complete()
    await pilot.pause()


async def round_trip(app, pilot):
    """A manual buy and close through the keys; returns the closed trade's id."""
    await pilot.press("b")
    await pilot.press("enter")
    await settled(app, pilot)
    await app.engine.run(20)
    await pilot.press("c")
    await settled(app, pilot)
    await app.engine.drain()
    app.pump()
    await pilot.pause()
    return (await app.engine.ledger.closed_trades())[0]["id"]


async def test_ticket_shows_size_unit_and_a_live_quote_with_notional_and_fee(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.press("b")
        await pilot.pause()
        ticket = app.screen
        assert isinstance(ticket, OrderTicket)
        assert "size (ETH)" in text(ticket.query_one("#ticket-size-label"))
        preview = text(ticket.query_one("#ticket-preview"))
        ask = app.engine.market["ETH/USDT"].book.best_ask
        assert f"{0.5 * ask:,.2f} USDT" in preview and f"fee {0.5 * ask * 0.0002:.2f}" in preview
        before = text(ticket.query_one("#ticket-info"))
        await app.engine.run(60)  # the market moves while the ticket is open
        app.pump()
        await pilot.pause()
        after = text(ticket.query_one("#ticket-info"))
        assert after != before and f"{app.engine.market['ETH/USDT'].book.best_ask:,.2f}" in after


async def test_a_refused_order_keeps_the_ticket_open_with_the_reason_then_a_good_size_fills(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.press("b")
        app.screen.query_one("#ticket-qty").value = "1e9"
        await pilot.press("enter")
        await settled(app, pilot)
        assert isinstance(app.screen, OrderTicket)
        assert "order rejected" in text(app.screen.query_one("#ticket-error"))
        assert not app.engine.portfolio.positions
        app.screen.query_one("#ticket-qty").value = "0.3"
        await pilot.press("enter")
        await settled(app, pilot)
        assert not isinstance(app.screen, OrderTicket)
        assert app.engine.portfolio.position("ETH/USDT").qty == 0.3


async def test_timeframe_speed_and_tab_keys(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        chart = app.query_one(CandleChart)
        assert chart.timeframe == "1m"
        await pilot.press("t")
        assert chart.timeframe == "1h"
        await pilot.press("t", "t", "t")
        assert chart.timeframe == "1m"
        app.engine.pacer.set_speed(10.0)
        await pilot.press("plus")
        assert app.engine.pacer.speed == 20
        await pilot.press("minus", "minus")
        assert app.engine.pacer.speed == 5
        await pilot.pause()
        assert "▶ 5x" in text(app.query_one("#header"))
        tabs = app.query_one(TabbedContent)
        for key, tab in (("2", "models"), ("3", "book"), ("4", "log-tab"), ("1", "desk")):
            await pilot.press(key)
            assert tabs.active == tab


async def test_zoom_fills_the_screen_with_a_pane_and_escape_restores(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.ready.wait()
        app.query_one("#trades").focus()
        await pilot.press("z")
        assert app.screen.maximized is app.query_one("#trades")
        await pilot.press("escape")
        assert app.screen.maximized is None
        await app.run_action("zoom('loss')")
        assert app.query_one(TabbedContent).active == "models" and app.screen.maximized is app.query_one("#loss")
        await pilot.press("z")
        assert app.screen.maximized is None


async def test_enter_on_a_closed_trade_opens_the_inspector_with_reward_and_fills(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        trade_id = await round_trip(app, pilot)
        table = app.query_one("#trades")
        assert "M→M" in str(table.get_row_at(0))
        table.focus()
        await pilot.press("enter")
        await settled(app, pilot)
        assert isinstance(app.screen, TradeInspector) and app.screen.detail.trade["id"] == trade_id
        body = text(app.screen.query_one("#inspector-body"))
        for part in ("opened by manual", "Reward (comprehensive)", "final", "strk", "Opening signal",
                     "models disabled", "Training on this trade", "Fills", "fee"):
            assert part in body, part
        assert len(app.screen.detail.fills) == 2
        await pilot.press("escape")
        assert not isinstance(app.screen, TradeInspector)
        await pilot.press("i")
        await settled(app, pilot)
        assert isinstance(app.screen, TradeInspector)


async def test_export_writes_the_closed_trades_beside_the_ledger(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        trade_id = await round_trip(app, pilot)
        await pilot.press("x")
        await settled(app, pilot)
        (path,) = (tmp_path / "exports").glob("trades-*.csv")
        rows = list(csv.DictReader(path.open()))
        assert [r["id"] for r in rows] == [trade_id] and rows[0]["open_source"] == "manual"
        await app.run_action("export('json')")
        await settled(app, pilot)
        (jpath,) = (tmp_path / "exports").glob("trades-*.json")
        assert json.loads(jpath.read_text())[0]["id"] == trade_id


async def test_evaluation_screen_says_how_to_produce_one_then_shows_the_file(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EvaluationScreen)
        assert "tickdesk evaluate --data" in text(app.screen.query_one("#evaluation-body"))
        await pilot.press("escape")
        path = latest_evaluation_path(tmp_path / "k.db")
        path.parent.mkdir()
        path.write_text(json.dumps({"verdict": "edge above the random band", "folds": [
            {"fold": 0, "net_bp": 4.0, "random_band_bp": [-1.0, 1.0]}]}))
        await pilot.press("e")
        await pilot.pause()
        body = text(app.screen.query_one("#evaluation-body"))
        assert "edge above the random band" in body and "ABOVE the random band" in body


async def test_help_explains_tags_columns_and_reward_components(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.ready.wait()
        await pilot.press("question_mark")
        glossary = text(app.screen.query_one("#help-glossary"))
        for part in ("M     manual", "A     auto", "R     rule", "opened→closed", "strk", "cons", "final"):
            assert part in glossary, part
        keys = text(app.screen.query_one("#help-keys"))
        assert "Inspect selected trade" in keys and "Export trades to CSV" in keys


async def test_log_pane_shows_messages_newest_first_and_filters(tmp_path):
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await pilot.press("p")
        await pilot.press("p")
        await pilot.press("4")
        await pilot.pause()
        lines = text(app.query_one("#log-lines")).splitlines()
        assert "feed resumed" in lines[0] and "feed paused" in lines[1]
        app.query_one("#log-filter").focus()
        await pilot.press("p", "a", "u")  # typed into the filter: not the pause key
        await pilot.pause()
        assert not app.engine.paused
        shown = text(app.query_one("#log-lines"))
        assert "feed paused" in shown and "resumed" not in shown


async def top_hit_is(app, pilot, name: str) -> None:
    """Wait until the palette's search has caught up with what was typed (it runs in a
    worker: under load Enter could pick the hit of a shorter query)."""
    for _ in range(100):
        hits = app.screen.query(CommandList)
        if hits and hits.first().highlighted is not None:
            option = hits.first().get_option_at_index(hits.first().highlighted)
            if str(option.prompt).split("\n")[0] == name:  # the name, then its help line
                return
        await pilot.pause(0.05)
    raise AssertionError(f"the palette never offered {name!r} first")


async def test_every_palette_command_runs_its_action(tmp_path):
    """All app commands, typed into ctrl+p one after the other in one session."""
    opened = {"ticket('buy')": OrderTicket, "ticket('sell')": OrderTicket, "help": HelpScreen,
              "evaluation": EvaluationScreen}
    app = app_for(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.ready.wait()
        await round_trip(app, pilot)  # a closed trade for the inspector and the export
        for name, _, action in app_commands():
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*name)
            await top_hit_is(app, pilot, name)
            await pilot.press("enter")
            await settled(app, pilot)
            if action in opened or action == "inspect":
                assert isinstance(app.screen, opened.get(action, TradeInspector)), name
                await pilot.press("escape")
            elif action == "pause":
                assert app.engine.paused, name
                app.engine.pause(False)
            elif action.startswith("timeframe("):
                assert app.query_one(CandleChart).timeframe == action.split("'")[1], name
            elif action.startswith("tab("):
                assert app.query_one(TabbedContent).active.startswith(action.split("'")[1]), name
            elif action.startswith("zoom"):
                want = app.query_one("#" + action.split("'")[1]) if "'" in action else app.screen.maximized
                assert want is not None and app.screen.maximized is want, name
                await pilot.press("escape")
            elif action.startswith("export("):
                assert list((tmp_path / "exports").glob("trades-*." + action.split("'")[1])), name
            elif action == "toggle_auto":
                assert app.check_action("toggle_auto", ()) is None and not app.engine.auto, name  # no models here
            elif action == "close_position":
                assert "no open ETH/USDT position" in text(app.query_one("#log-lines")), name
            elif action.startswith("speed("):
                assert "speed " in text(app.query_one("#log-lines")).splitlines()[0], name
            await pilot.pause()
            assert app.screen is app.screen_stack[0] and app.screen.maximized is None, name


@pytest.mark.parametrize("size, progress", [((120, 40), "+29m00s of 29m00s (100.0 %)"), ((80, 24), None)])
async def test_end_of_replay_is_a_clear_state_with_a_summary(tmp_path, size, progress):
    """At 120 columns the header says how much of the files was replayed (30 one-minute bars:
    29 min between closes); at 80 the ENDED badge fits whole, the progress gives way."""
    files = [write_klines(tmp_path, "ethusdt", flat_bars(30))]
    app = TickdeskApp(bar_engine(tmp_path, files), feed=True)
    async with app.run_test(size=size) as pilot:
        await app.ready.wait()
        for _ in range(200):  # the span is read in a thread: under load it can come after the end
            await pilot.pause(0.05)
            header = text(app.query_one("#header"))
            if app._ended_shown and (progress is None or progress in header):
                break
        assert "■ REPLAY ENDED" in header and "▶" not in header and "…" not in header, header
        assert progress is None or progress in header, header
        summary = [n.message for n in app._notifications]
        assert any("REPLAY ended (end of recorded data)" in m and "closed trades" in m for m in summary)
