"""Risk rules that close positions on their own: stop-loss, take-profit, max hold time.

Checked against the mark price on every market event of the position's symbol; a rule
close goes through the executor like any other order and is recorded with source "rule".
"""

from __future__ import annotations

from engine.config import RiskSettings
from engine.core.units import NS_PER_S
from engine.trading.portfolio import Position


def exit_reason(position: Position, mark: float, now_ns: int, risk: RiskSettings) -> str | None:
    """Why `position` must close now, or None. `mark` must already be a validated price."""
    move_pct = 100.0 * position.side.sign * (mark - position.entry_price) / position.entry_price
    if move_pct <= -risk.stop_loss_pct:
        return f"stop-loss {move_pct:+.2f}%"
    if move_pct >= risk.take_profit_pct:
        return f"take-profit {move_pct:+.2f}%"
    if (now_ns - position.opened_ns) / NS_PER_S >= risk.max_hold_s:
        return f"max hold {risk.max_hold_s:.0f}s"
    return None
