"""The Textual app: embeds the Engine in the app's event loop and renders its snapshots.

The engine runs as a worker on the same loop (it yields often and trains off-loop); a single
timer pulls `engine.snapshot()` at <= 10 Hz and applies it to every pane inside
`batch_update()`. Widgets never touch the engine; actions call its command methods.
Panes live in four tabs (Desk, Models, Book & equity, Log) so 80x24 works; from 110 columns
the Desk tab also shows the depth ladder, from 160 the model pane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, TabbedContent, TabPane

from engine.core.enums import Side
from engine.trading.paper import OrderRejected, QueuedOrder
from engine.runtime.engine import Engine
from tui import format as fmt
from tui.actions import DeskActions
from tui.commands import TickdeskCommands
from tui.logbuffer import LogBuffer
from tui.screens.confirm_live import ConfirmLiveOrders
from tui.screens.order_ticket import OrderTicket, OrderTicketResult
from tui.widgets.chart import CandleChart
from tui.widgets.depth import DepthLadder
from tui.widgets.equity import EquityPane
from tui.widgets.header import VenueHeader
from tui.widgets.learning import LossPane, RewardPane, StatusLine, WinRatePane
from tui.widgets.log import LogPane
from tui.widgets.market import MarketPane
from tui.widgets.models import ModelPane
from tui.widgets.tables import PositionsTable, TradesTable

log = logging.getLogger("tui")
NARROW, WIDE = 110, 160  # Desk tab: no depth ladder below NARROW columns; the model pane from WIDE
TITLES = {"market": "Market", "chart": "Candles", "desk-depth": "Depth", "positions": "Positions",
          "trades": "Closed trades · Enter: inspect", "desk-models": "Models", "models-pane": "Models",
          "loss": "Model loss", "rewards": "Reward calculation", "winrate": "Win rate", "depth": "Depth",
          "equity": "Equity & PnL", "log": "Log"}


class TickdeskApp(DeskActions, App[None]):
    CSS_PATH = "tickdesk.tcss"
    TITLE = "tickdesk"
    COMMANDS = App.COMMANDS | {TickdeskCommands}
    BINDINGS = [
        Binding("b", "ticket('buy')", "Buy", id="order.buy", priority=True),
        Binding("s", "ticket('sell')", "Sell", id="order.sell", priority=True),
        Binding("c", "close_position", "Close", id="order.close"),
        Binding("a", "toggle_auto", "Auto", id="engine.auto"),
        Binding("p", "pause", "Pause", id="engine.pause"),
        Binding("plus,equals_sign", "speed(1)", "Faster", id="engine.faster", key_display="+", show=False),
        Binding("minus", "speed(-1)", "Slower", id="engine.slower", key_display="-", show=False),
        Binding("t", "timeframe", "Timeframe", id="chart.timeframe"),
        Binding("1", "tab('desk')", "Desk tab", id="tab.desk", show=False),
        Binding("2", "tab('models')", "Models tab", id="tab.models", show=False),
        Binding("3", "tab('book')", "Book & equity tab", id="tab.book", show=False),
        Binding("4", "tab('log')", "Log tab", id="tab.log", show=False),
        Binding("i", "inspect", "Inspect selected trade", id="trade.inspect", show=False, priority=True),
        Binding("e", "evaluation", "Evaluation", id="app.evaluation", show=False, priority=True),
        Binding("z", "zoom", "Zoom pane (Esc restores)", id="app.zoom", show=False),
        Binding("x", "export('csv')", "Export trades to CSV", id="app.export", show=False),
        Binding("question_mark", "help", "Help", id="app.help", key_display="?", priority=True),
        Binding("q", "quit", "Quit", id="app.quit", priority=True),
        Binding("escape", "dismiss_modal", "Close", id="app.dismiss", show=False, priority=True),
    ]

    def __init__(self, engine: Engine, *, warmup_s: float | None = None, feed: bool = True,
                 log_buffer: LogBuffer | None = None) -> None:
        """`warmup_s` runs that much event time before the first frame; `feed=False` stops
        the feed after it (used by deterministic snapshot tests). `log_buffer` may already
        hold what was logged while the engine was built (checkpoint loads)."""
        super().__init__()
        self.engine = engine
        self.warmup_s = warmup_s
        self.feed = feed
        self.ready = asyncio.Event()
        self._views: list = []
        self._ended_shown = False
        self.terminal_lost = False  # set on SIGHUP (cli.py): the exit then skips restoring the terminal
        self.log_buffer = log_buffer or LogBuffer()
        self.log_buffer.event_ns = engine.clock.now_ns
        self.animation_level = "none"  # SSH-friendly: no animations

    def compose(self) -> ComposeResult:
        yield VenueHeader(id="header")
        with TabbedContent(id="tabs", initial="desk"):
            with TabPane("1 Desk", id="desk"):
                with Grid(id="desk-grid"):
                    yield MarketPane(id="market", classes="pane")
                    yield CandleChart(id="chart", classes="pane")
                    yield ModelPane(id="desk-models", classes="pane")  # shown from WIDE columns
                    yield DepthLadder(id="desk-depth", classes="pane")
                    with Vertical(id="right"):
                        yield PositionsTable(id="positions", classes="pane")
                        yield TradesTable(id="trades", classes="pane")
            with TabPane("2 Models", id="models"):
                with Grid(id="models-grid"):
                    yield ModelPane(id="models-pane", classes="pane")
                    yield LossPane(id="loss", classes="pane")
                    yield RewardPane(id="rewards", classes="pane")
                    yield WinRatePane(id="winrate", classes="pane")
            with TabPane("3 Book & equity", id="book"):
                with Grid(id="book-grid"):
                    yield DepthLadder(id="depth", classes="pane")
                    yield EquityPane(id="equity", classes="pane")
            with TabPane("4 Log", id="log-tab"):
                yield LogPane(self.log_buffer, id="log", classes="pane")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        for wid, title in TITLES.items():
            self.query_one(f"#{wid}").border_title = title
        self.log_buffer.attach()
        # The panes the pump renders, held once: the pump never queries the DOM, so it is
        # unaffected by which screen is on top or by teardown.
        self._views = [w for w in self.query("*") if hasattr(w, "update_from")]
        self._market = self.query_one(MarketPane)
        self.run_engine()
        if self.engine.live_orders and not self.engine.orders_confirmed:
            self.push_screen(ConfirmLiveOrders(self.engine.settings.venue.exchange), self._on_live_confirmed)
        self._pump = self.set_interval(1.0 / self.engine.settings.engine.ui_hz, self.pump, pause=True)
        self._fit_layout(self.size.width)

    def on_resize(self, event) -> None:
        self._fit_layout(event.size.width)

    def _fit_layout(self, width: int) -> None:
        if self.screen_stack:
            self.screen_stack[0].set_class(width < NARROW, "narrow")
            self.screen_stack[0].set_class(width >= WIDE, "wide")

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def run_engine(self) -> None:
        try:
            await self.engine.start()
            if self.warmup_s:
                speed = self.engine.pacer.speed
                self.engine.pacer.set_speed(None)
                await self.engine.run(self.warmup_s)
                self.engine.pacer.set_speed(speed)
            self.pump()
            self._pump.resume()
            self.ready.set()
            if self.feed:
                await self.engine.run()
                self.pump()
        except Exception as exc:
            log.exception("engine failed")
            self.notify(f"engine stopped: {exc}", severity="error", timeout=30)
            self.ready.set()
            raise

    def pump(self) -> None:
        """Render one engine snapshot into every pane, as one repaint."""
        if not self._views or not self.screen_stack:  # none while the app shuts down
            return
        snap = self.engine.snapshot()
        with self.batch_update():
            if isinstance(self.screen, OrderTicket):
                self.screen.update_quote(*self._quote(snap))
            # Under a modal the panes are dimmed background: repainting them would redraw the
            # whole screen behind it at 10 Hz for nothing (the ticket's quote is updated above).
            if len(self.screen_stack) == 1:
                for view in self._views:
                    if view.is_mounted and view.display:
                        view.update_from(snap)
                self._market.border_subtitle = snap.venue_label
        if snap.desk is not None and snap.desk.feed_ended and not self._ended_shown and self.feed:
            self._ended_shown = True
            self._say(self.session_summary(snap), timeout=600)

    def _quote(self, snap) -> tuple[float | None, float | None, str | None]:
        market = snap.market(snap.traded)
        pos = next((p for p in snap.positions if p.symbol == snap.traded), None)
        held = None if pos is None else f"{'LONG' if pos.side == Side.BUY else 'SHORT'} {fmt.qty(pos.qty)}"
        return (market.bid if market else None, market.ask if market else None, held)

    def _say(self, text: str, severity: str = "information", timeout: float = 4) -> None:
        """A toast that also lands in the log pane."""
        (log.warning if severity in ("warning", "error") else log.info)(text)
        self.notify(text, severity=severity, timeout=timeout)

    def _on_live_confirmed(self, confirmed: bool | None) -> None:
        self.engine.orders_confirmed = bool(confirmed)
        self._say("LIVE orders enabled" if confirmed else "live orders stay off: orders will be refused",
                  severity="warning", timeout=8)

    # -- actions --------------------------------------------------------------------------
    # Keys that open a modal are priority bindings, handled where the key arrives instead of
    # after a round trip through the focused widget's queue; Escape closes the top modal the
    # same way. Under load the round trip let an Escape typed right after `b` reach the
    # ticket before it had mounted, where it was lost (tests/tui/test_fast_keys.py).
    MODAL_OPENERS = frozenset({"ticket", "help", "inspect", "evaluation"})

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        on_main = len(self.screen_stack) == 1
        if action in self.MODAL_OPENERS and not on_main:
            return False  # the key goes on to the modal (a digit typed into the ticket)
        if action in self.MODAL_OPENERS and self._typing():
            return False  # a letter typed into the log filter
        if action == "dismiss_modal":
            return isinstance(self.screen, ModalScreen)
        if action == "toggle_auto" and not self.engine.auto_available:
            return None  # shown disabled in the footer until models can trade
        return True

    def _typing(self) -> bool:
        from textual.widgets import Input

        return isinstance(self.focused, Input)

    def action_dismiss_modal(self) -> None:
        """Escape on any modal, even one still mounting; a modal's own Escape does the same."""
        self.screen.dismiss(None)

    def action_ticket(self, side: str) -> None:
        snap = self.engine.snapshot()
        bid, ask, held = self._quote(snap)
        ticket = OrderTicket(Side(side), snap.traded, snap.order_qty, bid, ask, held,
                             taker_fee=self.engine.settings.trading.taker_fee, submit=self._submit_ticket)
        self.push_screen(ticket, self._on_ticket)

    def _on_ticket(self, result: OrderTicketResult | None) -> None:
        if result is None:
            self.notify("order cancelled", timeout=2)

    async def _submit_ticket(self, order: OrderTicketResult) -> str | None:
        """The ticket's submit: None when filled or queued, else the refusal (the ticket stays open)."""
        try:
            plan = await self.engine.submit(order.side, order.qty, order.symbol, source="manual")
        except (OrderRejected, ValueError) as exc:
            log.warning("order rejected: %s", exc)
            return str(exc)
        if isinstance(plan, QueuedOrder):
            self._notify_queued(plan)
            return None
        f = plan.fill
        self._say(f"{f.side.value.upper()} {fmt.qty(f.qty)} {f.symbol} @ {fmt.price(f.price)} (fee {f.fee:.2f})")
        self.pump()
        return None

    @work(group="orders", exit_on_error=False)
    async def action_close_position(self) -> None:
        try:
            plan = await self.engine.close_position(source="manual")
        except OrderRejected as exc:
            self._say(str(exc), severity="warning")
            return
        if isinstance(plan, QueuedOrder):
            self._notify_queued(plan)
            return
        if plan.closed is not None:
            c = plan.closed
            self._say(f"closed {c.symbol} PnL {c.pnl:+.2f} (fees {c.fees:.2f})",
                      severity="information" if c.pnl >= 0 else "warning")
        self.pump()

    def _notify_queued(self, queued: QueuedOrder) -> None:
        """A bars-only market fills at the next bar's open: say so instead of a fill."""
        o = queued.order
        self._say(f"{o.side.value.upper()} {fmt.qty(o.qty)} {o.symbol}: {queued.message}")
        self.pump()

    def action_toggle_auto(self) -> None:
        state, reason = self.engine.toggle_auto()
        self._say(reason or f"auto-trading {'ON' if state else 'off'}", timeout=3)
        self.pump()

    def action_pause(self) -> None:
        paused = self.engine.pause()
        self._say("feed paused" if paused else "feed resumed", timeout=2)
        self.pump()

    @on(DataTable.RowSelected, "#trades")
    def _trade_selected(self, event: DataTable.RowSelected) -> None:
        self.open_inspector(str(event.row_key.value))

    @on(TabbedContent.TabActivated)
    def _tab_shown(self) -> None:
        self.pump()  # the newly shown panes draw at once, not on the next tick

    async def action_quit(self) -> None:
        await self.engine.close()
        self.exit()

    def lose_terminal(self) -> None:
        """SIGHUP: the terminal is gone (cli.py calls this in the signal handler, then exits
        the app). Textual's output thread dies on the closed pty while the app goes on
        rendering into its bounded queue, and once that is full the event loop itself blocks
        in `put`: nothing, not even the exit, runs again. Emptying the queue and dropping
        further output frees the loop; `on_unmount` then ends the process."""
        self.terminal_lost = True
        writer = getattr(self._driver, "_writer_thread", None)
        pending = getattr(writer, "_queue", None)
        if writer is None or pending is None:
            return
        writer.write = lambda text: None  # nothing reads the pty any more
        with contextlib.suppress(queue.Empty):
            while True:
                pending.get_nowait()  # wakes a `put` blocked on the full queue

    async def on_unmount(self) -> None:
        """Every exit path (q, ctrl+c, a lost terminal) closes the ledger and the trainer.
        With the terminal lost (SIGHUP) the process then ends here, exit 0: restoring a
        terminal that is gone is impossible, and Textual's writer, whose thread has died on
        the closed pty, would block its shutdown for ever, the workspace still locked."""
        self._pump.stop()
        self._views = []
        self.log_buffer.detach()
        await self.engine.close()
        if self.terminal_lost:
            logging.shutdown()
            os._exit(0)

