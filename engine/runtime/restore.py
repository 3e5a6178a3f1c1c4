"""What a start brings back from the ledger: the account, open positions with their opening
signals, the recent closed trades for the panes, and the reward history.

The comprehensive reward depends on the previous trades (consistency, streaks), so its
history is replayed before any new trade closes; open positions get their signal (and its
state) back into the tracker, so a trade opened before a restart still trains the models
that made it when it closes after.
"""

from __future__ import annotations

from engine.core.enums import Side, Source
from engine.learning.reward import RewardCalculator
from engine.learning.signals_store import load_signal
from engine.learning.tracker import SignalPositionTracker
from engine.trading.portfolio import Portfolio, Position
from engine.views.projection import RECENT_TRADES, TradeLog
from storage.ledger import Ledger

REWARD_HISTORY = 20  # closed trades replayed into the reward calculator


async def restore_session(ledger: Ledger, *, quote_balance: float, portfolio: Portfolio, trades: TradeLog,
                          calculator: RewardCalculator, tracker: SignalPositionTracker, schema: str) -> int:
    """Restore everything but the market; returns the number of open positions restored."""
    balance, fees = await ledger.load_account(quote_balance)
    positions = [
        Position(
            id=r["id"], symbol=r["symbol"], side=Side(r["side"]), qty=r["qty"], entry_price=r["entry_price"],
            opened_ns=r["opened_ns"], source=Source(r["source"]), signal_id=r["signal_id"], entry_qty=r["entry_qty"],
            exit_qty=r["exit_qty"], exit_value=r["exit_value"], fees=r["fees"], realized=r["realized"],
        )
        for r in await ledger.open_positions()
    ]
    portfolio.restore(balance, fees, positions)
    trades.restore(await ledger.closed_trades(limit=RECENT_TRADES))
    calculator.restore(await ledger.recent_returns_pct(REWARD_HISTORY, rewarded_only=True))
    links = await ledger.signal_links([p.id for p in positions])
    for position_id, link in links.items():
        signal = await load_signal(ledger, link["signal_id"], schema)
        if signal is not None:
            tracker.register(position_id, signal)
    return len(positions)
