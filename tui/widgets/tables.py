"""Positions and closed-trades tables. Rows are keyed by position/trade id and only the cells
that changed are updated, so the user's cursor and scroll survive the 10 Hz refresh."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt


def _colored(value: float | None, digits: int = 2) -> Text:
    return Text(fmt.signed(value, digits), style=fmt.sign_style(value), justify="right")


class KeyedTable(DataTable):
    """A DataTable fed with (key, cells) rows: adds, removes and updates in place."""

    COLUMNS: tuple[str, ...] = ()

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for name in self.COLUMNS:
            self.add_column(name, key=name)

    def sync_rows(self, rows: list[tuple[str, tuple]]) -> None:
        wanted = [k for k, _ in rows]
        current = [str(k.value) for k in self.rows]
        if current != wanted:
            if set(current) - set(wanted) or current != wanted[: len(current)]:
                self.clear()
                current = []
            for key, cells in rows:
                if key not in current:
                    self.add_row(*cells, key=key)
            return
        for key, cells in rows:
            for col, cell in zip(self.COLUMNS, cells):
                if str(self.get_cell(key, col)) != str(cell):
                    self.update_cell(key, col, cell, update_width=True)  # '12m52s' outgrows '9s'


class PositionsTable(KeyedTable):
    COLUMNS = ("symbol", "side", "size", "entry", "mark", "uPnL", "held", "by")

    def update_from(self, snap: EngineSnapshot) -> None:
        rows = []
        for p in snap.positions:
            side = Text("LONG", style="green") if p.side == "buy" else Text("SHORT", style="red")
            rows.append((p.id, (p.symbol, side, fmt.qty(p.qty), fmt.price(p.entry), fmt.price(p.mark),
                                _colored(p.upnl), fmt.duration(p.hold_s), fmt.source_tag(p.source))))
        self.sync_rows(rows)
        self.border_subtitle = "flat" if not rows else f"{len(rows)} open"


class TradesTable(KeyedTable):
    """Newest first; Enter or a click on a row opens the trade inspector (the app handles
    DataTable.RowSelected from this table)."""

    COLUMNS = ("side", "size", "entry", "exit", "PnL", "fees", "held", "by", "reward")

    def update_from(self, snap: EngineSnapshot) -> None:
        rows = []
        for t in snap.trades[:100]:
            rows.append((t.id, ("L" if t.side == "buy" else "S", fmt.qty(t.qty), fmt.price(t.entry), fmt.price(t.exit),
                                _colored(t.pnl), fmt.price(t.fees), fmt.duration(t.hold_s), f"{fmt.source_tag(t.open_source)}→{fmt.source_tag(t.source)}",
                                _colored(t.reward, 3))))
        self.sync_rows(rows)
