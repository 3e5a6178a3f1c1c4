"""Market pane: the traded symbol's price, touch and spread, with the reference symbols
below (the candle chart beside it draws the price)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt

class MarketPane(Vertical):
    def compose(self) -> ComposeResult:
        self._quote = Static(id="market-quote")
        self._ref = Static(id="market-ref")
        yield self._quote
        yield self._ref

    def update_from(self, snap: EngineSnapshot) -> None:
        m = snap.market(snap.traded)
        quote = Text(no_wrap=True, overflow="ellipsis")
        if m is None or m.last is None:
            quote.append("waiting for the first price…", style="dim")
        else:
            quote.append(f"{m.symbol} ", style="bold")
            quote.append(fmt.price(m.last), style="bold")
            if m.change_pct is not None:
                quote.append(f" {m.change_pct:+.2f}%", style=fmt.sign_style(m.change_pct))
            quote.append(f"\nbid {fmt.price(m.bid):>10}", style="green")
            quote.append(f"\nask {fmt.price(m.ask):>10}", style="red")
            spread = "—" if m.spread is None else f"{m.spread:.2f} {m.spread_bp:.2f}bp"
            quote.append(f"\nspread {spread}", style="dim")
        self._quote.update(quote)
        ref = Text(no_wrap=True, overflow="ellipsis")
        for r in snap.markets:
            if r.symbol == snap.traded:
                continue
            ref.append(f"{r.symbol} ", style="dim bold")
            ref.append(fmt.price(r.last))
            if r.change_pct is not None:
                ref.append(f" {r.change_pct:+.2f}%", style=fmt.sign_style(r.change_pct))
            ref.append("\n")
        self._ref.update(ref)
