"""Depth ladder of the traded symbol: asks above, bids below, best prices in the middle,
each level's size as a bar against the largest visible level, and the book imbalance."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.views.snapshot import EngineSnapshot
from tui import format as fmt


class DepthLadder(Static):
    def update_from(self, snap: EngineSnapshot) -> None:
        d = snap.desk
        if d is None or d.bids is None or d.asks is None or not len(d.bids) or not len(d.asks):
            self.update(Text("no order book (bar data has none)" if snap.venue == "replay" else "no order book yet",
                             style="dim"))
            return
        rows = max(1, min(len(d.asks), len(d.bids), (self.content_region.height - 2) // 2 or 1))
        asks, bids = d.asks[:rows][::-1], d.bids[:rows]
        biggest = float(max(asks[:, 1].max(), bids[:, 1].max())) or 1.0
        bar_w = max(4, self.content_region.width - 24)
        t = Text(no_wrap=True, overflow="crop")
        for (px, q), style in [*((a, "red") for a in asks), *((b, "green") for b in bids)]:
            n = max(1, round(bar_w * q / biggest))
            t.append(f"{fmt.price(float(px)):>10} {fmt.qty(float(q)):>10} ", style=style)
            t.append("█" * n + "\n", style=style)
            if style == "red" and px == asks[-1][0]:
                spread = float(d.asks[0][0] - d.bids[0][0])
                t.append(f"{'spread':>10} {spread:>10.2f}\n", style="dim")
        bid_q, ask_q = float(d.bids[:, 1].sum()), float(d.asks[:, 1].sum())
        imb = (bid_q - ask_q) / (bid_q + ask_q) if bid_q + ask_q > 0 else 0.0
        t.append(f"imbalance {imb:+.2f} (top {len(d.bids)}: bids {bid_q:,.3g} / asks {ask_q:,.3g})",
                 style=fmt.sign_style(imb))
        self.update(t)
