"""The Engine: one object that runs a market session, headless or under the TUI.

venue events -> market state -> risk rules / decision step -> orders (ledger first, then the
portfolio) -> closed trades -> outcomes (reward, training). This module keeps only the
lifecycle and the event loop; the stages it drives live in their own packages. Front ends
call the command methods (submit, close_position, pause, toggle_auto) and read `snapshot()`;
they never touch engine objects directly. All logic runs on event time from the EventClock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from engine.config import Settings
from engine.core.clock import EventClock, Pacer
from engine.core.enums import FeedState, ModelName, Side, Source
from engine.core.events import BarEvent, BookEvent, Event
from engine.core.units import NS_PER_S
from engine.decision.policy import DecisionPolicy, build_policy
from engine.decision.ports import Learner, ModelMetrics, TrainingEvent
from engine.decision.signal import Signal, manual_signal_without_models
from engine.features.builder import PositionInfo
from engine.features.context import entry_volatility_bp
from engine.learning.signals_store import save_opening_signal
from engine.learning.reward import Reward
from engine.learning.schedule import build_training
from engine.learning.tracker import SignalPositionTracker
from engine.market.state import MarketState
from engine.runtime.restore import start_session
from engine.trading.auto import AutoTrader
from engine.trading.orders import Executor, OrderService
from engine.trading.paper import PaperExecutor, QueuedOrder
from engine.trading.portfolio import ClosedTrade, FillPlan, Portfolio, Position, position_info
from engine.venues.base import Venue
from engine.venues.sim import venue_detail
from engine.views.desk import desk_view
from engine.views.projection import RateMeter, TradeLog, prices, project
from engine.views.snapshot import EngineSnapshot
from storage.ledger import Ledger, Scope

log = logging.getLogger("engine")

PROGRESS_EVERY = 2048  # events between progress callbacks (the headless progress line)


class Engine:
    def __init__(
        self,
        settings: Settings,
        venue: Venue,
        *,
        db_path: Path | str,
        auto: bool | None = None,
        wall: Callable[[], float] = time.monotonic,
        trainer: Learner | None = None,
        models_status: str = "models disabled in config",
        executor: Executor | None = None,
        scope: Scope = Scope(),
    ) -> None:
        """`trainer` (implemented by models/) enables decisions and training; without it the
        engine trades manually only and `models_status` says why. `scope`: whose positions
        and account in the ledger are this session's (engine/runtime/workspace.py)."""
        self.settings = settings
        self.venue = venue
        self.db_path, self.scope, self.models_provenance = str(db_path), scope, {}
        self.traded = settings.venue.traded if settings.venue.traded in venue.symbols else venue.symbols[0]
        self.clock = EventClock()
        self.market = MarketState(venue.symbols, self.clock, sanity=settings.sanity)
        self.portfolio = Portfolio(settings.trading.quote_balance)
        self.executor: Executor = executor or PaperExecutor(settings.trading.taker_fee)
        self.live_orders = executor is not None and not isinstance(executor, PaperExecutor)
        self.pacer = Pacer(settings.engine.speed, wall)
        self.ledger: Ledger | None = None
        self.rate = RateMeter(wall)
        self.trainer = trainer
        self.models_status = models_status
        self.policy = build_policy(settings, self.market, self.traded, venue.name, trainer) if trainer else None
        self.auto = bool(settings.models.auto_trade if auto is None else auto) and self.policy is not None
        self.tracker = SignalPositionTracker()
        self.training = build_training(settings, venue.name, trainer, self.clock.now_ns, lambda: self.pacer.speed,
                                       lambda: self.ledger, self._flush_signals, self.tracker, self._on_outcome,
                                       self.policy.calibrator if self.policy else None)
        self.labels, self.outcomes = self.training.labels, self.training.outcomes
        self.orders = OrderService(
            settings, self.market, self.portfolio, self.executor, lambda: self.ledger, self.clock, venue.name,
            entry_signal=self.entry_signal, persist_signal=self._persist_signal,
            on_opened=lambda position, signal: self.tracker.register(position.id, signal),
            on_closed=self._on_closed, note=self.note,
        )
        # Live orders stay refused until the trader confirms them (typed in the TUI, or
        # --yes-i-mean-it headless); paper orders need no confirmation.
        self.orders.confirmed = not self.live_orders
        self.autotrader = AutoTrader(self.submit, self.close_position, self.note)
        self.trades = TradeLog()
        self.first_event_ns: int | None = None
        self.messages: deque[str] = deque(maxlen=20)
        self.signals = 0
        self.closed_listeners: list[Callable[[ClosedTrade], None]] = []
        self._resume = asyncio.Event()
        self._resume.set()
        self._stopping = False
        self._stream = None
        self._running = False
        self._first_price: dict[str, float] = {}
        self.progress_hook: Callable[[], None] | None = None
        self.replay_span_ns: tuple[int, int] | None = None  # what a replay's files span (read in a thread)
        self._span_task: asyncio.Task | None = None
        self.session_training: dict[str, int] = dict.fromkeys(ModelName, 0)
        # Recorded and simulated streams: a decision due at event time T is taken once every
        # event stamped T is in (ETH's and BTC's bars closing together), not after the first.
        self._defer, self._decide_at = venue.name != "live", None

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the ledger, restore this scope's account and positions, reconcile the models,
        warm up history (engine/runtime/restore.py `start_session`)."""
        await start_session(self)

    async def run(self, duration_s: float | None = None) -> None:
        """Consume the venue until it ends, `duration_s` of event time has passed, or stop().

        The venue's stream is opened once and resumed by later calls, so running in
        stretches (warm-up, then live) continues the same market. The duration counts from
        the first event when the session has none yet, from now otherwise."""
        if self._stream is None:
            self._stream = self.venue.events()
            if (span := getattr(self.venue, "span_ns", None)) is not None:
                self._span_task = asyncio.create_task(self._read_span(span))
        self._running = True
        try:
            await self._consume(duration_s)
        finally:
            self._running = False

    def _until_ns(self, duration_s: float | None) -> int | None:
        if duration_s is None or self.first_event_ns is None:
            return None
        return self.clock.now_ns() + int(duration_s * NS_PER_S)

    async def _consume(self, duration_s: float | None) -> None:
        until_ns = self._until_ns(duration_s)
        async for event in self._stream:
            if self._stopping:
                break
            if not self._resume.is_set():
                await self._resume.wait()
                self.pacer.reset()
            ts = event.end_ns if isinstance(event, BarEvent) else event.ts_ns
            if self._decide_at is not None and ts > self._decide_at:
                await self._decide_pending()
            await self.pacer.wait_for(ts)
            if self.market.apply(event):
                if self.first_event_ns is None and self.clock.now_ns() > 0:
                    self.first_event_ns = self.clock.now_ns()
                    until_ns = self._until_ns(duration_s)
                await self._after_event(event)
            if until_ns is not None and max(ts, self.clock.now_ns()) >= until_ns:
                return await self._decide_pending()
        if not self._stopping:
            await self._decide_pending()
        self.market.announce(FeedState.STOPPED if self._stopping else FeedState.ENDED, self.market.feed_detail)

    async def _after_event(self, event: Event) -> None:
        self.rate.tick()
        if self.progress_hook is not None and self.rate.count % PROGRESS_EVERY == 0:
            self.progress_hook()
        symbol = getattr(event, "symbol", None)
        if symbol is not None:
            if symbol not in self._first_price and self.market[symbol].last_price is not None:
                self._first_price[symbol] = self.market[symbol].last_price  # the session's % change is from it
            await self.orders.after_event(event)  # fills queued bar orders, enforces the risk rules
        await self.training.settle()  # lockstep: trained before anything reads the models (learning/schedule.py)
        policy = self.policy
        if policy is None or self.first_event_ns is None:
            return
        if isinstance(event, BookEvent):
            policy.builder.observe_books(self.market)
        if policy.due(self.clock.now_ns()):
            self._decide_at = self.clock.now_ns()
            if not self._defer:
                await self._decide_pending()

    async def _decide_pending(self) -> None:
        """Take the decision deferred to the end of its event time, if one is due."""
        at, self._decide_at = self._decide_at, None
        if at is not None and self.policy is not None:
            await self._decision_step(self.policy)
            await self.training.settle()

    async def _decision_step(self, policy: DecisionPolicy) -> None:
        """Decide, label, and act on the decision (trading/auto.py) when auto-trading."""
        pos = self.portfolio.position(self.traded)
        try:
            signal = policy.decide(self._position_info(pos), self.portfolio.balance, holding=pos.side if pos else None,
                                   explore=self.auto and not self.live_orders)
        except Exception as exc:  # a model that cannot run disables predictions, loudly
            log.exception("decision step failed")
            self._disable_models(f"predictions disabled: {exc}")
            return
        self.signals += 1
        await self.ledger.record_signals(policy.take_unsaved())
        now, mid = self.clock.now_ns(), self.market[self.traded].mid
        self.labels.labeler.track(signal.id, now, mid, signal.state, signal.outputs["calibration"])
        self.labels.advance(now, mid)
        await self.autotrader.act(signal, pos, auto=self.auto, feed_healthy=self.market.feed_of(self.traded).healthy)

    def _position_info(self, pos: Position | None) -> PositionInfo:
        return position_info(pos, configured_qty=self.settings.order_qty_for(self.traded),
                             equity=self.portfolio.equity(self.prices()),
                             start_equity=self.settings.trading.quote_balance)

    def _disable_models(self, reason: str) -> None:
        self.models_status = reason
        self.policy = None
        self.auto = False
        self.note(reason)

    async def _flush_signals(self) -> None:
        if self.policy is not None and self.ledger is not None:
            await self.ledger.record_signals(self.policy.take_unsaved(force=True))

    async def drain(self) -> None:
        """Wait for outcome processing (rewards, training) still in flight."""
        await self.training.drain()

    async def _read_span(self, span: Callable[[], tuple[int, int] | None]) -> None:
        try:
            self.replay_span_ns = await asyncio.to_thread(span)
        except (OSError, ValueError) as exc:  # progress is a nicety: the replay itself reports bad files
            self.note(f"replay span unknown: {exc}")

    def stop(self) -> None:
        self._stopping = True
        self._resume.set()

    async def close(self) -> None:
        self.stop()
        if self._stream is not None and not self._running:
            await self._stream.aclose()  # a running loop sees _stopping and ends by itself
        self._stream = None
        if self._span_task is not None:
            self._span_task.cancel()
        await self.venue.close()
        await self.executor.close()
        await self.training.stop()
        if self.trainer is not None:
            await asyncio.to_thread(self.trainer.close)  # saves checkpoints, joins the thread
            self.trainer = None
        if self.ledger is not None:
            await self._flush_signals()
            await self.ledger.close()
            self.ledger = None

    # -- commands -------------------------------------------------------------------------
    def pause(self, paused: bool | None = None) -> bool:
        """Pause or resume the feed (toggle when `paused` is None); returns the new state."""
        want = self._resume.is_set() if paused is None else paused
        (self._resume.clear if want else self._resume.set)()
        return want

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    @property
    def orders_confirmed(self) -> bool:
        return self.orders.confirmed

    @orders_confirmed.setter
    def orders_confirmed(self, value: bool) -> None:
        self.orders.confirmed = value

    @property
    def trades_opened(self) -> int:
        return self.orders.opened

    def note(self, text: str) -> None:
        log.info(text)
        self.messages.appendleft(text)

    async def submit(self, side: Side, qty: float | None = None, symbol: str | None = None,
                     source: Source = Source.MANUAL, signal: Signal | None = None) -> FillPlan | QueuedOrder:
        """Fill a market order (paper unless live orders are on and confirmed); durable in
        the ledger before it becomes visible. On a bars-only market it is queued for the next
        bar's open (QueuedOrder.message says so). Raises OrderRejected with a readable reason."""
        return await self.orders.submit(side, symbol or self.traded, qty, source, signal)

    async def close_position(self, symbol: str | None = None, source: Source = Source.MANUAL) -> FillPlan | QueuedOrder:
        return await self.orders.close_position(symbol or self.traded, source)

    def entry_signal(self, symbol: str, side: Side, source: Source, ts_ns: int) -> Signal:
        """The signal a manual position is linked to: the models' state and outputs at entry,
        so they learn from manual trades too; without models, a signal saying why."""
        if self.policy is not None and symbol == self.traded:
            info = self._position_info(self.portfolio.position(symbol))
            return self.policy.decide(info, self.portfolio.balance, kind=Source.MANUAL, forced_action=side)
        return manual_signal_without_models(symbol, side, ts_ns, self.venue.name, self.models_status,
                                            self.portfolio.balance, entry_volatility_bp(self.market, symbol))

    async def _persist_signal(self, signal: Signal) -> None:
        await save_opening_signal(self.ledger, signal, self.policy.take_unsaved(force=True) if self.policy else [])

    def toggle_auto(self) -> tuple[bool, str]:
        """Auto-trading needs models; returns (state, reason when refused)."""
        if self.policy is None:
            return False, f"auto-trading unavailable: {self.models_status}"
        self.auto = not self.auto
        return self.auto, ""

    @property
    def auto_available(self) -> bool:
        return self.policy is not None

    # -- closed trades --------------------------------------------------------------------
    async def _on_closed(self, closed: ClosedTrade) -> None:
        self.trades.add(await self.ledger.closed_trade(closed.id))
        for listener in self.closed_listeners:
            listener(closed)
        self.outcomes.submit(closed.id)

    def _on_outcome(self, row: dict, reward: Reward | None, events: list[TrainingEvent]) -> None:
        self.trades.refresh(row)
        for model in {e["model"] for e in events}:
            self.session_training[model] = self.session_training.get(model, 0) + 1

    # -- views ----------------------------------------------------------------------------
    def prices(self) -> dict[str, float | None]:
        return prices(self.market)

    def metrics(self) -> dict[str, ModelMetrics]:
        return self.trainer.metrics() if self.trainer is not None else {}

    def snapshot(self) -> EngineSnapshot:
        return project(
            venue=self.venue.name, venue_label=self.venue.label, symbols=self.venue.symbols, traded=self.traded,
            market=self.market, portfolio=self.portfolio, trades=self.trades, first_prices=self._first_price,
            first_event_ns=self.first_event_ns, paused=self.paused, speed=self.settings.engine.speed_text,
            events_per_s=self.rate.rate(), db_path=self.db_path, order_qty=self.settings.order_qty_for(self.traded),
            auto=self.auto, auto_available=self.auto_available, models_status=self.models_status,
            metrics=self.metrics(), messages=self.messages, training_lag_p50_s=self.training.lag.p50_s,
            venue_detail=venue_detail(self.venue), models_provenance=self.models_provenance,
            desk=desk_view(self),
        )
