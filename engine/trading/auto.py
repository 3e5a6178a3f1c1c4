"""Auto-trading: acting on a decision, and saying why a decision did not trade.

A decision (engine/decision/policy.py) is BUY, SELL, HOLD or EXIT; this turns it into an
order or a close, tagged `explore` when an exploration draw chose it and `auto` when the
models did, and counts every decision that did not become an order by its reason: the
summary's `signals_refused` and the TUI's "why is auto not trading" line read these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from engine.core.enums import Action, Policy, Side, Source
from engine.decision.signal import Signal
from engine.trading.paper import OrderRejected
from engine.trading.portfolio import Position

# Why a decision did not trade (the keys of `signals_refused`)
AUTO_OFF = "auto_off"                # auto-trading is off
CALIBRATING = "calibrating"          # too few outcomes yet for a calibrated probability
NO_SKILL = "no_skill_shown"          # the calibration has not beaten the base rate out of sample
BELOW_THRESHOLD = "below_threshold"  # flat, and neither side's probability reaches the threshold
FEED = "feed_not_healthy"            # the feed is starting, stale, reconnecting or has a gap
ORDER_REFUSED = "order_refused"      # the order service refused the order (reason in the log)


class AutoTrader:
    def __init__(self, submit: Callable[..., Awaitable[Any]], close: Callable[..., Awaitable[Any]],
                 note: Callable[[str], None]) -> None:
        self._submit, self._close, self._note = submit, close, note
        self.refused: Counter[str] = Counter()
        self.last_reason: str | None = None  # why the last decision did not trade (None: it did, or it held)

    def _refuse(self, reason: str) -> None:
        self.refused[reason] += 1
        self.last_reason = reason

    async def act(self, signal: Signal, pos: Position | None, *, auto: bool, feed_healthy: bool) -> None:
        decision = signal.decision
        if not auto:
            return self._refuse(AUTO_OFF)
        if decision is Action.HOLD:
            if pos is None:
                self._refuse(refusal_of(signal))
            else:
                self.last_reason = None
            return
        if not feed_healthy:
            return self._refuse(FEED)
        source = Source.EXPLORE if signal.policy is Policy.EXPLORE else Source.AUTO
        try:
            if decision is Action.EXIT and pos is not None:
                await self._close(source=source)
            elif decision in (Action.BUY, Action.SELL) and pos is None:
                await self._submit(Side(decision.value), source=source, signal=signal)
            self.last_reason = None
        except OrderRejected as exc:
            self._refuse(ORDER_REFUSED)
            self._note(f"{source} {decision} refused: {exc}")

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.refused.items()))


def refusal_of(signal: Signal) -> str:
    """Why a flat HOLD did not trade, in the order the decision step checks."""
    if signal.p_win is None:
        return CALIBRATING
    if not signal.outputs.get("skill", {}).get("shown", True):
        return NO_SKILL
    return BELOW_THRESHOLD
