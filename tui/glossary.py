"""What the tags, columns and reward components on screen mean: one table, shown under `?`
and used by the panes for their labels, so a label and its explanation cannot drift apart."""

from __future__ import annotations

TAGS = (
    ("M", "manual: the trader (b / s / c)"),
    ("A", "auto: the models' own (greedy) decision, when auto-trading is on"),
    ("E", "explore: an exploration draw on paper, kept out of the greedy statistics"),
    ("R", "rule: a risk rule (stop-loss, take-profit, max hold)"),
)

COLUMNS = (
    ("by", "opened→closed by, as tags (A→R: the models opened it, a risk rule closed it)"),
    ("held", "time in the position, in event time"),
    ("reward", "the final reward the models learn from (components below)"),
    ("uPnL", "unrealised PnL at the mid price"),
    ("conf", "the models' blended score of the last decision; auto acts on its calibrated P(win)"),
)

# reward component key -> (short label on screen, what it is)
REWARD_TERMS: dict[str, tuple[str, str]] = {
    "pnl": ("pnl%", "net PnL in % of the entry notional"),
    "base": ("base", "pnl% × 10, the main term"),
    "time": ("time", "holding penalty: −0.001 per minute over 5 minutes"),
    "risk": ("risk", "PnL in % of the balance per unit of position size (× 2 in the sum)"),
    "consistency": ("cons", "pnl% in standard deviations of recent trades (× 0.5), clipped"),
    "streak": ("strk", "win-streak bonus or loss-streak penalty"),
    "raw": ("raw", "the sum before clipping"),
    "final": ("final", "the reward, clipped"),
    "return_bp": ("ret bp", "net log return in basis points (normalised preset)"),
    "fees_bp": ("fees bp", "fees in basis points of the entry notional"),
    "hold_min": ("hold m", "minutes held"),
    "sigma_h_bp": ("σh bp", "1m volatility at entry scaled to the holding time"),
}


def reward_label(key: str) -> str:
    return REWARD_TERMS.get(key, (key, ""))[0]
