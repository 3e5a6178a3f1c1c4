"""The Textual app: embeds the Engine in the app's event loop and renders its snapshots.

The engine runs as a worker on the same loop (it yields often and trains off-loop); a single
timer pulls `engine.snapshot()` at <= 10 Hz and applies it to every pane inside
`batch_update()`. Widgets never touch the engine; actions call its command methods.
"""

from __future__ import annotations

import asyncio
import logging

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widgets import Footer

from engine.core.enums import Side
from engine.trading.paper import OrderRejected, QueuedOrder
from engine.runtime.engine import Engine
from tui import format as fmt
from tui.screens.confirm_live import ConfirmLiveOrders
from tui.screens.help import HelpScreen
from tui.screens.order_ticket import OrderTicket, OrderTicketResult
from tui.widgets.header import VenueHeader
from tui.widgets.learning import LossPane, RewardPane, StatusLine, WinRatePane
from tui.widgets.market import MarketPane
from tui.widgets.tables import PositionsTable, TradesTable

log = logging.getLogger("tui")


class TickdeskApp(App[None]):
    CSS_PATH = "tickdesk.tcss"
    TITLE = "tickdesk"
    BINDINGS = [
        Binding("b", "ticket('buy')", "Buy", id="order.buy"),
        Binding("s", "ticket('sell')", "Sell", id="order.sell"),
        Binding("c", "close_position", "Close", id="order.close"),
        Binding("a", "toggle_auto", "Auto", id="engine.auto"),
        Binding("p", "pause", "Pause", id="engine.pause"),
        Binding("question_mark", "help", "Help", id="app.help", key_display="?"),
        Binding("q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(self, engine: Engine, *, warmup_s: float | None = None, feed: bool = True) -> None:
        """`warmup_s` runs that much event time before the first frame; `feed=False` stops
        the feed after it (used by deterministic snapshot tests)."""
        super().__init__()
        self.engine = engine
        self.warmup_s = warmup_s
        self.feed = feed
        self.ready = asyncio.Event()
        self._views: list = []
        self.animation_level = "none"  # SSH-friendly: no animations

    def compose(self) -> ComposeResult:
        yield VenueHeader(id="header")
        with Grid(id="main"):
            yield MarketPane(id="market", classes="pane")
            with Vertical(id="right"):
                yield PositionsTable(id="positions", classes="pane")
                yield TradesTable(id="trades", classes="pane")
            yield RewardPane(id="rewards", classes="pane")
            yield LossPane(id="loss", classes="pane")
            yield WinRatePane(id="winrate", classes="pane")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        titles = {"market": "Market", "positions": "Positions", "trades": "Closed trades",
                  "rewards": "Reward calculation", "loss": "Model loss", "winrate": "Win rate"}
        for wid, title in titles.items():
            self.query_one(f"#{wid}").border_title = title
        # The panes the pump renders, held once: the pump never queries the DOM, so it is
        # unaffected by which screen is on top or by teardown.
        self._views = [self.query_one(w) for w in (VenueHeader, MarketPane, PositionsTable, TradesTable,
                                                    RewardPane, LossPane, WinRatePane, StatusLine)]
        self.run_engine()
        if self.engine.live_orders and not self.engine.orders_confirmed:
            self.push_screen(ConfirmLiveOrders(self.engine.settings.venue.exchange), self._on_live_confirmed)
        self._pump = self.set_interval(1.0 / self.engine.settings.engine.ui_hz, self.pump, pause=True)

    @work(exclusive=True, group="engine", exit_on_error=False)
    async def run_engine(self) -> None:
        try:
            await self.engine.start()
            if self.warmup_s:
                self.engine.pacer.set_speed(None)
                await self.engine.run(self.warmup_s)
            self.pump()
            self._pump.resume()
            self.ready.set()
            if self.feed:
                await self.engine.run()
        except Exception as exc:
            log.exception("engine failed")
            self.notify(f"engine stopped: {exc}", severity="error", timeout=30)
            self.ready.set()
            raise

    def pump(self) -> None:
        """Render one engine snapshot into every pane, as one repaint."""
        if not self._views:
            return
        snap = self.engine.snapshot()
        with self.batch_update():
            for view in self._views:
                if view.is_mounted:
                    view.update_from(snap)
            self._views[1].border_subtitle = snap.venue_label

    def _on_live_confirmed(self, confirmed: bool | None) -> None:
        self.engine.orders_confirmed = bool(confirmed)
        self.notify("LIVE orders enabled" if confirmed else "live orders stay off: orders will be refused",
                    severity="warning", timeout=8)

    # -- actions --------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "toggle_auto" and not self.engine.auto_available:
            return None  # shown disabled in the footer until models can trade
        return True

    def action_ticket(self, side: str) -> None:
        snap = self.engine.snapshot()
        symbol = snap.traded
        market = snap.market(symbol)
        pos = next((p for p in snap.positions if p.symbol == symbol), None)
        held = None if pos is None else f"{'LONG' if pos.side == Side.BUY else 'SHORT'} {fmt.qty(pos.qty)}"
        ticket = OrderTicket(Side(side), symbol, snap.order_qty, market.bid if market else None,
                             market.ask if market else None, held)
        self.push_screen(ticket, self._on_ticket)

    def _on_ticket(self, result: OrderTicketResult | None) -> None:
        if result is None:
            self.notify("order cancelled", timeout=2)
            return
        self.place_order(result)

    @work(group="orders", exit_on_error=False)
    async def place_order(self, order: OrderTicketResult) -> None:
        try:
            plan = await self.engine.submit(order.side, order.qty, order.symbol, source="manual")
        except (OrderRejected, ValueError) as exc:
            self.notify(f"order rejected: {exc}", severity="error", timeout=6)
            return
        if isinstance(plan, QueuedOrder):
            self._notify_queued(plan)
            return
        f = plan.fill
        self.notify(f"{f.side.value.upper()} {fmt.qty(f.qty)} {f.symbol} @ {fmt.price(f.price)} (fee {f.fee:.2f})")
        self.pump()

    @work(group="orders", exit_on_error=False)
    async def action_close_position(self) -> None:
        try:
            plan = await self.engine.close_position(source="manual")
        except OrderRejected as exc:
            self.notify(str(exc), severity="warning", timeout=4)
            return
        if isinstance(plan, QueuedOrder):
            self._notify_queued(plan)
            return
        if plan.closed is not None:
            c = plan.closed
            self.notify(f"closed {c.symbol} PnL {c.pnl:+.2f} (fees {c.fees:.2f})",
                        severity="information" if c.pnl >= 0 else "warning")
        self.pump()

    def _notify_queued(self, queued: QueuedOrder) -> None:
        """A bars-only market fills at the next bar's open: say so instead of a fill."""
        o = queued.order
        self.notify(f"{o.side.value.upper()} {fmt.qty(o.qty)} {o.symbol}: {queued.message}", timeout=4)
        self.pump()

    def action_toggle_auto(self) -> None:
        state, reason = self.engine.toggle_auto()
        self.notify(reason or f"auto-trading {'ON' if state else 'off'}", timeout=3)

    def action_pause(self) -> None:
        paused = self.engine.pause()
        self.notify("feed paused" if paused else "feed resumed", timeout=2)
        self.pump()

    def action_help(self) -> None:
        rows = [(b.key_display or b.key, b.description) for b in self.BINDINGS]
        self.push_screen(HelpScreen(rows))

    async def action_quit(self) -> None:
        await self.engine.close()
        self.exit()

    async def on_unmount(self) -> None:
        """Every exit path (q, ctrl+c, a lost terminal) closes the ledger and the trainer."""
        self._pump.stop()
        self._views = []
        await self.engine.close()
