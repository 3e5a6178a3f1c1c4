"""The command palette's app commands (ctrl+p): every key's action and the ones without a
key (a timeframe, a tab, zoom of a named pane, export). Each entry runs an app action, so
the palette and the keys cannot do different things."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from engine.core.units import TIMEFRAMES

TABS = (("desk", "Desk"), ("models", "Models"), ("book", "Book & equity"), ("log", "Log"))
ZOOMABLE = (("chart", "candle chart"), ("models-pane", "model pane"), ("loss", "loss plot"),
            ("rewards", "reward calculation"), ("depth", "depth ladder"), ("equity", "equity"),
            ("trades", "closed trades"), ("log", "log"))


def app_commands() -> list[tuple[str, str, str]]:
    """(name, help, action) for every palette entry."""
    out = [
        ("buy", "open the order ticket to buy", "ticket('buy')"),
        ("sell", "open the order ticket to sell", "ticket('sell')"),
        ("close position", "close the traded symbol's position", "close_position"),
        ("toggle auto-trading", "let the models trade (or stop them)", "toggle_auto"),
        ("pause / resume feed", "hold the market still", "pause"),
        ("speed up", "replay or SIM faster", "speed(1)"),
        ("speed down", "replay or SIM slower", "speed(-1)"),
        ("open trade inspector", "the selected closed trade in full", "inspect"),
        ("export closed trades to CSV", "beside the ledger, under exports/", "export('csv')"),
        ("export closed trades to JSON", "the trades --json contract, beside the ledger", "export('json')"),
        ("evaluation", "the latest `tickdesk evaluate` result", "evaluation"),
        ("zoom pane", "the focused pane full screen (Esc to restore)", "zoom"),
        ("help", "keys, tags, columns and reward components", "help"),
    ]
    out += [(f"timeframe {tf}", f"candles of {tf}", f"timeframe('{tf}')") for tf in TIMEFRAMES]
    out += [(f"show {title}", f"switch to the {title} tab", f"tab('{tid}')") for tid, title in TABS]
    out += [(f"zoom {label}", f"the {label} full screen (Esc to restore)", f"zoom('{wid}')") for wid, label in ZOOMABLE]
    return out


class TickdeskCommands(Provider):
    async def discover(self) -> Hits:
        for name, help_text, action in app_commands():
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, action in app_commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.run_action, action), help=help_text)
