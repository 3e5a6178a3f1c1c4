"""The app's commands beyond orders: replay speed, chart timeframe, tabs, pane zoom, the
trade inspector, the evaluation screen, export and help. A mixin of TickdeskApp, so keys
and palette entries (tui/commands.py) run the same `action_*` methods."""

from __future__ import annotations

import asyncio

from textual import work
from textual.widget import Widget
from textual.widgets import DataTable, TabbedContent

from engine.views.snapshot import EngineSnapshot
from engine.views.trade_detail import load_trade_detail
from engine.views.trades_export import export_path, write_trades
from engine.views.trades_report import to_contract
from tui import format as fmt
from tui.screens.evaluation import EvaluationScreen
from tui.screens.help import HelpScreen
from tui.screens.inspector import TradeInspector
from tui.widgets.chart import CandleChart

SPEEDS: tuple[float | None, ...] = (0.5, 1, 2, 5, 10, 20, 50, 100, None)  # None: as fast as possible
TAB_OF = {"chart": "desk", "trades": "desk", "models-pane": "models", "loss": "models", "rewards": "models",
          "winrate": "models", "depth": "book", "equity": "book", "log": "log-tab"}


def next_speed(current: float | None, step: int) -> float | None:
    """The next speed on the ladder up (step 1) or down (step -1) from `current`."""
    if current is None:
        i = len(SPEEDS) - 1
    else:
        i = min(range(len(SPEEDS) - 1), key=lambda k: abs(SPEEDS[k] - current))
    return SPEEDS[max(0, min(len(SPEEDS) - 1, i + step))]


def session_summary(snap: EngineSnapshot) -> str:
    s, d = snap.stats, snap.desk
    covered = fmt.duration(d.session_s) if d is not None and d.session_s is not None else fmt.DASH
    start = d.start_equity if d is not None else snap.equity
    ret = 100 * (snap.equity - start) / start if start else None
    return (f"{snap.venue_label} ended ({snap.feed_detail or snap.feed_state}): {covered} of event time · "
            f"{s.trades} closed trades · greedy win rate {fmt.pct(s.greedy_win_rate)} of {s.greedy_trades} · "
            f"equity {fmt.price(snap.equity)} "
            f"({fmt.signed(ret, 3)}%)")


class DeskActions:
    """Mixed into TickdeskApp (needs .engine, .pump, ._say, .query_one, .push_screen)."""

    def action_speed(self, step: int) -> None:
        pacer = self.engine.pacer
        speed = next_speed(pacer.speed, int(step))
        pacer.set_speed(speed)
        self._say(f"speed {'max' if speed is None else f'{speed:g}x'}", timeout=2)
        self.pump()

    def action_timeframe(self, timeframe: str | None = None) -> None:
        chart = self.query_one(CandleChart)
        if timeframe is None:
            chart.cycle_timeframe()
        else:
            chart.set_timeframe(timeframe)
        self.notify(f"candles {chart.timeframe}", timeout=2)

    def action_tab(self, tab: str) -> None:
        # Drop the focus first: a focused widget hidden by the switch hands focus to its
        # neighbour in the old tab, and TabbedContent follows focus back to that tab.
        self.set_focus(None)
        self.query_one(TabbedContent).active = "log-tab" if tab == "log" else tab

    def action_zoom(self, pane: str | None = None) -> None:
        """The named pane, or the one holding focus, or the active tab's first, full screen."""
        screen = self.screen_stack[0]
        if self.screen is not screen:
            return
        if screen.maximized is not None:
            screen.minimize()
            return
        target: Widget | None = None
        if pane is not None:
            self.action_tab(TAB_OF.get(pane, "desk"))
            target = self.query_one(f"#{pane}")
        else:
            node = self.focused
            while node is not None and not node.has_class("pane"):
                node = node.parent
            if node is None:
                active = self.query_one(TabbedContent).active_pane
                node = active.query(".pane").first() if active is not None else None
            target = node
        if target is not None:
            screen.maximized = target  # any pane, focusable or not (Screen.maximize takes focusable ones only)

    def action_help(self) -> None:
        rows = [(b.key_display or b.key, b.description) for b in self.BINDINGS if b.action != "dismiss_modal"]
        self.push_screen(HelpScreen(rows))

    def action_evaluation(self) -> None:
        self.push_screen(EvaluationScreen(self.engine.db_path))

    def action_inspect(self) -> None:
        table = self.query_one("#trades", DataTable)
        if table.row_count == 0:
            self.notify("no closed trades to inspect", timeout=3)
            return
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        self.open_inspector(str(row_key.value))

    @work(group="inspector", exclusive=True, exit_on_error=False)
    async def open_inspector(self, trade_id: str) -> None:
        if self.engine.ledger is None:
            return
        detail = await load_trade_detail(self.engine.ledger, trade_id)
        if detail is None:
            self._say(f"trade {trade_id} is not in the ledger", severity="warning")
        elif len(self.screen_stack) == 1:
            self.push_screen(TradeInspector(detail))

    @work(group="export", exit_on_error=False)
    async def action_export(self, kind: str = "csv") -> None:
        if self.engine.ledger is None:
            return
        rows = [to_contract(r) for r in await self.engine.ledger.closed_trades()]
        stamp = fmt.event_time(self.engine.clock.now_ns()).replace(" UTC", "").replace(" ", "T").replace(":", "")
        path = export_path(self.engine.db_path, kind, stamp or "start")
        try:
            await asyncio.to_thread(write_trades, rows, path, kind)
        except (OSError, ValueError) as exc:
            self._say(f"export failed: {exc}", severity="error")
            return
        self._say(f"exported {len(rows)} closed trades to {path}", timeout=8)

    def session_summary(self, snap: EngineSnapshot) -> str:
        return session_summary(snap)
