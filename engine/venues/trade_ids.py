"""Corrupt trade ids in a Binance trade stream, told apart from the good ones by their neighbours.

Binance numbers each symbol's trades one by one, so in a recorded `@trade` stream every id
follows the one before: at most a few ids further on than the clock allows. An id that does
not (one line carrying 10^15) is corrupt. A mark-based check would then take it as the new
mark and refuse the good trades after it; here a trade that does not follow the last good one
waits for the next trade to decide. If the next follows the last good one, the odd trade is
dropped (counted `bad_trade_id`); if the next follows the odd one instead, the odd one was the
stream going on (the last good trade was the odd one, or the recording resumed after a pause
the clock does not show), so both are kept and the stream continues from them. One bad id
therefore costs itself and nothing else, and the stream never stays anchored on a bad id.
Small steps back pass through: the market state drops repeated ids as duplicates.
"""

from __future__ import annotations

from engine.core.events import RejectCounter, TradeEvent
from engine.core.units import NS_PER_S

IDS_PER_S = 100_000  # ids a symbol may advance per second of event time (recorded: at most 1,647 in a second)
IDS_SLACK = 100_000  # ids always allowed on top, and how far back an id may step


def follows(prev: TradeEvent, trade: TradeEvent) -> bool:
    """Whether `trade`'s id can come after `prev`'s in the time between them."""
    if prev.trade_id is None or trade.trade_id is None:
        return True
    step = trade.trade_id - prev.trade_id
    reach = IDS_PER_S * max(trade.ts_ns - prev.ts_ns, 0) / NS_PER_S + IDS_SLACK
    return -IDS_SLACK <= step <= reach


class TradeIdCheck:
    """Feed one stream's trades in order; `feed` returns the trades to pass on, in order."""

    def __init__(self, rejected: RejectCounter) -> None:
        self.rejected = rejected
        self.last: TradeEvent | None = None  # the last trade passed on
        self.pending: TradeEvent | None = None  # a trade that did not follow `last`, awaiting the next

    def feed(self, trade: TradeEvent) -> tuple[TradeEvent, ...]:
        if self.last is None or follows(self.last, trade):
            self._drop_pending()
            if self.last is None or _newer(trade, self.last):
                self.last = trade
            return (trade,)
        if self.pending is not None and follows(self.pending, trade):
            kept, self.pending, self.last = self.pending, None, trade
            return kept, trade
        self._drop_pending()
        self.pending = trade
        return ()

    def finish(self) -> None:
        """End of the stream: a trade still waiting had nothing to vouch for it."""
        self._drop_pending()

    def _drop_pending(self) -> None:
        if self.pending is not None:
            self.rejected.add("bad_trade_id")
            self.pending = None


def _newer(trade: TradeEvent, than: TradeEvent) -> bool:
    return trade.trade_id is None or than.trade_id is None or trade.trade_id > than.trade_id
