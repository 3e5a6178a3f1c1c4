"""What a start brings back from the ledger: the account, open positions with their opening
signals, the recent closed trades for the panes, and the reward history; and the order of a
session's start (`start_session`).

Only the session's own scope comes back (storage `Scope`: venue kind, paper or live orders,
and data): a SIM position and balance never appear in a REPLAY or LIVE session on the same
ledger, and real orders never close a paper position.

The comprehensive reward depends on the previous trades (consistency, streaks), so its
history is replayed before any new trade closes; open positions get their signal (and its
state) back into the tracker, so a trade opened before a restart still trains the models
that made it when it closes after.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from engine.config import Settings
from engine.core.enums import Side, Source
from engine.decision.ports import Learner
from engine.features.schema import SCHEMA
from engine.learning.outcomes import OutcomeProcessor
from engine.learning.reward import RewardCalculator
from engine.learning.schedule import LabelTraining
from engine.learning.signals_store import load_signal
from engine.learning.tracker import SignalPositionTracker
from engine.market.state import MarketState
from engine.runtime.reconcile import reconcile_models
from engine.runtime.timeline import ShiftedVenue, continue_sim
from engine.trading.orders import OrderService
from engine.trading.portfolio import Portfolio, Position
from engine.venues.base import Venue
from engine.venues.sim import SimVenue
from engine.views.projection import RECENT_TRADES, TradeLog
from storage.ledger import Ledger, Scope

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


class Session(Protocol):
    """The parts of the Engine a start sets up (engine/runtime/engine.py)."""

    settings: Settings
    venue: Venue
    db_path: str
    scope: Scope
    ledger: Ledger | None
    market: MarketState
    portfolio: Portfolio
    trades: TradeLog
    tracker: SignalPositionTracker
    outcomes: OutcomeProcessor
    trainer: Learner | None
    labels: LabelTraining | None
    models_provenance: dict[str, Any]
    orders: OrderService
    note: Callable[[str], None]


async def _restore_calibration(engine: Session) -> None:
    """With every model back from its checkpoint, the calibration is refitted on the
    ledger's last labelled decisions, so a restart does not spend 100 labels calibrating
    again; models that start fresh calibrate from scratch (old scores describe old models)."""
    loaded = all(p.get("checkpoint") == "loaded" for p in engine.models_provenance.values())
    if engine.labels is None or not engine.models_provenance or not loaded:
        return
    n = await engine.labels.restore_calibration()
    if n:
        engine.note(f"calibration refitted on the ledger's last {n:,} labelled decisions")


async def start_session(engine: Session) -> None:
    """Open the ledger on the session's scope, restore that scope's account and positions,
    continue its timeline, warm up history, refill the DQN's memory, reconcile the models
    with the ledger, queue the trades whose training the last run left pending, and settle
    the live orders it left unanswered (asked for at the exchange by their client ids)."""
    storage = engine.settings.storage
    engine.ledger = ledger = await Ledger.open(engine.db_path, engine.scope, retention_s=storage.decision_retention_s,
                                               prune_every=storage.prune_every)
    restored = await restore_session(
        ledger, quote_balance=engine.settings.trading.quote_balance, portfolio=engine.portfolio, trades=engine.trades,
        calculator=engine.outcomes.calculator, tracker=engine.tracker, schema=SCHEMA.fingerprint,
    )
    if restored:
        engine.note(f"restored {restored} open {engine.scope.describe()} position(s) from {engine.db_path}")
        await _continue_timeline(engine, await ledger.last_event_ns())
    engine.market.load_history(await engine.venue.warmup())
    engine.outcomes.start()
    await engine.outcomes.drain()  # the DQN's replay memory, refilled from the ledger first
    engine.models_provenance = await reconcile_models(ledger, engine.trainer, SCHEMA.fingerprint,
                                                       engine.outcomes.cost_bp)
    await _restore_calibration(engine)
    recovered = await engine.outcomes.recover()
    if recovered:
        engine.note(f"training {recovered} closed trade(s) left pending by the last run")
    for line in await engine.orders.reconcile(lambda signal_id: load_signal(ledger, signal_id, SCHEMA.fingerprint)):
        engine.note(f"live order from the last run: {line}")


async def _continue_timeline(engine: Session, last_ns: int | None) -> None:
    """Restored positions live on the ledger's clock: the market continues after it."""
    if last_ns is None:
        return
    if isinstance(engine.venue, SimVenue):
        engine.venue, seconds = continue_sim(engine.settings, engine.venue, last_ns)
        if seconds:
            engine.note(f"SIM starts {seconds:,} s later, after the ledger's last fill (restored positions)")
    elif engine.venue.name == "replay":
        engine.venue = ShiftedVenue(engine.venue, last_ns, lambda seconds: engine.note(
            f"replay time shifted {seconds:,} s later, after the ledger's last fill (restored positions)"))
