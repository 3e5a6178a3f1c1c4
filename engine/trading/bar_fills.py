"""Paper fills on a market that has bars but no order book (a kline replay).

A bar says what traded, not what could have been hit, so a fill on bars is a stated model
rather than a walk of the book:

* a market order decided at a bar's close fills at the NEXT bar's open (the decision cannot
  trade at the close it has just seen), moved by half of `[trading] bar_spread_bp` against
  the taker, plus the taker fee;
* a stop-loss or take-profit touched inside a bar's high-low range fills at its level, or at
  the bar's open when the bar opened beyond it (a gap fills where the market was), again
  moved by half the spread against the taker, plus the fee.

Every fill names the model it used (`Fill.fill_model`), so a closed trade and the session
summary say whether its prices came from a book or from bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.core.enums import Side
from engine.core.units import BP
from engine.trading.paper import BOOK_WALK, OrderRejected, OrderRequest
from engine.trading.portfolio import Fill

BAR_OPEN = "bar_open+half_spread"    # the bar's open (next bar after the order, or a gap through a stop)
BAR_LEVEL = "bar_level+half_spread"  # a stop/target level inside the bar's range


@dataclass(frozen=True, slots=True)
class BarFills:
    """The bar fill model: `spread_bp` is the full stated spread, half of it is paid per fill."""

    spread_bp: float
    taker_fee: float

    @property
    def half_spread(self) -> float:
        """Half the spread as a fraction of the price."""
        return self.spread_bp / BP / 2.0

    def price(self, side: Side, reference: float) -> float:
        """`reference` moved against the taker: a buy pays above it, a sell receives below."""
        return reference * (1.0 + side.sign * self.half_spread)

    def fill(self, order: OrderRequest, reference: float, ts_ns: int, model: str) -> Fill:
        """The fill of `order` at `reference` (a bar's open or a stop level) under `model`;
        `slippage` is what the half spread cost, in quote currency, as the book walk's is."""
        if not (math.isfinite(order.qty) and order.qty > 0):
            raise OrderRejected(f"order size must be > 0, got {order.qty!r}")
        price = self.price(order.side, reference)
        return Fill(
            ts_ns=ts_ns, symbol=order.symbol, side=order.side, qty=order.qty, price=price,
            fee=price * order.qty * self.taker_fee, slippage=abs(price - reference) * order.qty,
            source=order.source, signal_id=order.signal_id, fill_model=model,
        )

    def describe(self) -> dict[str, object]:
        """The paper fill models and their parameters, for the session summary."""
        return {
            "book": f"{BOOK_WALK}: market orders take the visible book (VWAP), plus the taker fee",
            "bars": f"{BAR_OPEN}: next bar's open \u00b1 half of {self.spread_bp:g} bp, plus the taker fee; stop-loss"
                    " / take-profit on the bar's high-low (stop-loss first when both are touched), at the level"
                    f" ({BAR_LEVEL}) or the open if the bar gapped through it, \u2213 half spread, plus the fee",
            "bar_spread_bp": self.spread_bp,
            "taker_fee": self.taker_fee,
        }
