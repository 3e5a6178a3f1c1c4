"""Risk rules that close positions on their own: stop-loss, take-profit, max hold time.

With an order book they are checked against the mark price on every market event of the
position's symbol (`exit_reason`). On a bars-only market the mark moves a bar at a time, and
a close would miss every touch inside the bar, so the price bands are checked against each
bar's high and low instead (`bar_exit`). A rule close goes through the same fill path as any
other order and is recorded with source "rule".
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import RiskSettings
from engine.core.events import BarEvent
from engine.core.units import NS_PER_S
from engine.trading.bar_fills import BAR_LEVEL, BAR_OPEN
from engine.trading.portfolio import Position


def _move_pct(position: Position, price: float) -> float:
    """The move from entry in the position's favour, in percent (negative is a loss)."""
    return 100.0 * position.side.sign * (price - position.entry_price) / position.entry_price


def exit_reason(position: Position, mark: float, now_ns: int, risk: RiskSettings) -> str | None:
    """Why `position` must close now, or None. `mark` must already be a validated price."""
    move_pct = _move_pct(position, mark)
    if move_pct <= -risk.stop_loss_pct:
        return f"stop-loss {move_pct:+.2f}%"
    if move_pct >= risk.take_profit_pct:
        return f"take-profit {move_pct:+.2f}%"
    if (now_ns - position.opened_ns) / NS_PER_S >= risk.max_hold_s:
        return f"max hold {risk.max_hold_s:.0f}s"
    return None


@dataclass(frozen=True, slots=True)
class BarExit:
    """A price band touched inside one bar: why, the price it fills at before the half
    spread (the level, or the open when the bar opened beyond it), and the fill model."""

    reason: str
    reference: float
    fill_model: str


def bar_exit(position: Position, bar: BarEvent, risk: RiskSettings) -> BarExit | None:
    """The stop-loss or take-profit `bar` touched, or None (max hold is `exit_reason`'s).

    The open comes first in every bar, so a bar that opened beyond a level fills at the open.
    Otherwise the bar does not say whether its high or its low came first; when both levels
    lie inside its range the stop-loss is taken, the worse outcome, so a backtest on bars
    never books a win that may have been a loss."""
    at_open = _move_pct(position, bar.open)
    if at_open <= -risk.stop_loss_pct:
        return BarExit(f"stop-loss {at_open:+.2f}% (gap at the open)", bar.open, BAR_OPEN)
    if at_open >= risk.take_profit_pct:
        return BarExit(f"take-profit {at_open:+.2f}% (gap at the open)", bar.open, BAR_OPEN)
    sign = position.side.sign
    worst, best = (bar.low, bar.high) if sign > 0 else (bar.high, bar.low)
    if _move_pct(position, worst) <= -risk.stop_loss_pct:
        level = position.entry_price * (1.0 - sign * risk.stop_loss_pct / 100.0)
        return BarExit(f"stop-loss {-risk.stop_loss_pct:+.2f}%", _inside(level, bar), BAR_LEVEL)
    if _move_pct(position, best) >= risk.take_profit_pct:
        level = position.entry_price * (1.0 + sign * risk.take_profit_pct / 100.0)
        return BarExit(f"take-profit {risk.take_profit_pct:+.2f}%", _inside(level, bar), BAR_LEVEL)
    return None


def _inside(level: float, bar: BarEvent) -> float:
    """A touched level lies in the bar's range; clamp away the last bit of rounding."""
    return min(max(level, bar.low), bar.high)
