"""The Engine: one object that runs a market session, headless or under the TUI.

venue events -> MarketState -> risk rules / decision step -> executor -> ledger (durable)
-> portfolio (visible) -> closed trades -> outcome processing. Front ends call the command
methods (submit, close_position, pause, toggle_auto) and read `snapshot()`; they never touch
engine objects directly. All logic runs on event time from the EventClock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path
from typing import Callable

from typing import Any

from engine.core.clock import EventClock, Pacer, parse_speed
from engine.config import Settings
from engine.core.enums import FeedState, Side
from engine.core.events import BarEvent, BookEvent
from engine.trading.paper import OrderRejected, OrderRequest, PaperExecutor
from engine.market.state import MarketState
from engine.decision.policy import Orchestrator, entry_volatility_bp, manual_signal_without_models
from engine.learning.outcomes import OutcomeProcessor
from engine.trading.portfolio import ClosedTrade, FillPlan, Portfolio, Position
from engine.learning.reward import Reward, RewardCalculator
from engine.trading.risk import exit_reason
from engine.features.schema import SCHEMA
from engine.views.snapshot import EngineSnapshot, MarketView, ModelView, PositionView, TradeView
from engine.views.stats import TradeOutcome, dominant_model, outcomes_from_rows, win_stats
from engine.learning.tracker import SignalPositionTracker
from engine.venues.base import Venue
from storage.ledger import Ledger

log = logging.getLogger("engine")

RECENT_TRADES = 200


class RateMeter:
    """Events per second of wall time over a sliding window (for the status line)."""

    def __init__(self, wall: Callable[[], float], window_s: float = 2.0) -> None:
        self._wall = wall
        self._window = window_s
        self._marks: deque[tuple[float, int]] = deque()
        self.count = 0

    def tick(self, n: int = 1) -> None:
        self.count += n

    def rate(self) -> float | None:
        now = self._wall()
        self._marks.append((now, self.count))
        while len(self._marks) > 2 and now - self._marks[0][0] > self._window:
            self._marks.popleft()
        t0, c0 = self._marks[0]
        return (self.count - c0) / (now - t0) if now > t0 else None


def trade_view(row: dict) -> TradeView:
    """A ledger closed-trade row as the panes show it."""
    return TradeView(
        id=row["id"], symbol=row["symbol"], side=row["side"], qty=row["qty"], entry=row["entry_price"],
        exit=row["exit_price"], pnl=row["pnl"], fees=row["fees"],
        hold_s=(row["exit_ns"] - row["entry_ns"]) / 1e9, source=row["source"], exit_ns=row["exit_ns"],
        reward=row.get("reward"), reward_components=row.get("reward_components"),
        models=row.get("models") or {}, trained=tuple(row.get("trained") or ()),
    )


class Engine:
    def __init__(
        self,
        settings: Settings,
        venue: Venue,
        *,
        db_path: Path | str,
        speed: str | None = None,
        auto: bool | None = None,
        wall: Callable[[], float] = time.monotonic,
        trainer: Any | None = None,
        models_status: str = "models disabled in config",
        executor: Any | None = None,
    ) -> None:
        """`trainer` (models/trainer.Trainer) enables decisions and training; without it
        the engine trades manually only and `models_status` says why."""
        self.settings = settings
        self.venue = venue
        self.db_path = str(db_path)
        self.traded = settings.venue.traded if settings.venue.traded in venue.symbols else venue.symbols[0]
        self.clock = EventClock()
        self.market = MarketState(venue.symbols, self.clock)
        self.portfolio = Portfolio(settings.trading.quote_balance)
        self.executor = executor or PaperExecutor(settings.trading.taker_fee)
        self.live_orders = executor is not None and not isinstance(executor, PaperExecutor)
        # Live orders stay refused until the trader confirms them (typed in the TUI, or
        # --yes-i-mean-it headless); paper orders need no confirmation.
        self.orders_confirmed = not self.live_orders
        self.speed_text = speed or settings.engine.speed
        self.pacer = Pacer(parse_speed(self.speed_text), wall)
        self.ledger: Ledger | None = None
        self.rate = RateMeter(wall)
        self.trainer = trainer
        self.models_status = models_status
        self.orchestrator = Orchestrator(settings, self.market, self.traded, venue.name, trainer) if trainer else None
        self.auto = bool(settings.models.auto_trade if auto is None else auto) and self.orchestrator is not None
        self.tracker = self.orchestrator.tracker if self.orchestrator else SignalPositionTracker()
        self.outcomes = OutcomeProcessor(lambda: self.ledger, RewardCalculator(settings.reward.preset), self.tracker,
                                         trainer, SCHEMA.fingerprint, self._on_outcome)
        self._label_tasks: set[asyncio.Task] = set()
        self.first_event_ns: int | None = None
        self.recent_trades: deque[TradeView] = deque(maxlen=RECENT_TRADES)
        self.reward_log: deque[str] = deque(maxlen=RECENT_TRADES)
        self.trade_outcomes: list[TradeOutcome] = []
        self.messages: deque[str] = deque(maxlen=20)
        self.signals = 0
        self.trades_opened = 0
        self.closed_listeners: list[Callable[[ClosedTrade], None]] = []
        self._order_lock = asyncio.Lock()
        self._resume = asyncio.Event()
        self._resume.set()
        self._stopping = False
        self._stream = None
        self._running = False
        self._first_price: dict[str, float] = {}
        self.progress_hook: Callable[[], None] | None = None
        self.session_training: dict[str, int] = {"cnn": 0, "dqn": 0, "cob_rl": 0}

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the ledger, restore the account and open positions, warm up history."""
        self.ledger = await Ledger.open(self.db_path)
        balance, fees = await self.ledger.load_account(self.settings.trading.quote_balance)
        rows = await self.ledger.open_positions()
        positions = [
            Position(
                id=r["id"], symbol=r["symbol"], side=Side(r["side"]), qty=r["qty"], entry_price=r["entry_price"],
                opened_ns=r["opened_ns"], source=r["source"], signal_id=r["signal_id"], entry_qty=r["entry_qty"],
                exit_qty=r["exit_qty"], exit_value=r["exit_value"], fees=r["fees"], realized=r["realized"],
            )
            for r in rows
        ]
        self.portfolio.restore(balance, fees, positions)
        if positions:
            self.note(f"restored {len(positions)} open position(s) from {self.db_path}")
        recent = await self.ledger.closed_trades(limit=RECENT_TRADES)
        for row in reversed(recent):
            self.recent_trades.appendleft(trade_view(row))
        self.trade_outcomes = outcomes_from_rows(recent)
        self.outcomes.calculator.restore(await self.ledger.recent_returns_pct(20, rewarded_only=True))
        await self._restore_links([p.id for p in positions])
        self.market.load_history(await self.venue.warmup())
        await self.ledger.set_meta("last_venue", self.venue.name)
        self.outcomes.start()
        recovered = await self.outcomes.recover()
        if recovered:
            self.note(f"training {recovered} closed trade(s) left pending by the last run")

    async def _restore_links(self, position_ids: list[str]) -> None:
        """Open positions get their opening signal (with its state) back into the tracker."""
        links = await self.ledger.signal_links(position_ids)
        for position_id, link in links.items():
            signal = await self.ledger.get_signal(link["signal_id"])
            if signal is None:
                continue
            stored = await self.ledger.load_signal_state(link["signal_id"])
            if stored is not None and stored[0] == SCHEMA.fingerprint:
                signal["state"] = stored[1]
            self.tracker.register_signal(link["signal_id"], signal, position_id)

    async def run(self, duration_s: float | None = None) -> None:
        """Consume the venue until it ends, `duration_s` of event time has passed, or stop().

        The venue's stream is opened once and resumed by later calls, so running in
        stretches (warm-up, then live) continues the same market."""
        if self._stream is None:
            self._stream = self.venue.events()
        until_ns: int | None = None
        if duration_s is not None and self.first_event_ns is not None:
            until_ns = self.clock.now_ns() + int(duration_s * 1e9)
        self._running = True
        try:
            await self._consume(duration_s, until_ns)
        finally:
            self._running = False

    async def _consume(self, duration_s: float | None, until_ns: int | None) -> None:
        async for event in self._stream:
            if self._stopping:
                break
            if not self._resume.is_set():
                await self._resume.wait()
                self.pacer.reset()
            ts = event.end_ns if isinstance(event, BarEvent) else event.ts_ns
            await self.pacer.wait_for(ts)
            if self.market.apply(event):
                if self.first_event_ns is None and self.clock.now_ns() > 0:
                    self.first_event_ns = self.clock.now_ns()
                    if duration_s is not None:
                        until_ns = self.first_event_ns + int(duration_s * 1e9)
                await self._after_event(event)
            if until_ns is not None and max(ts, self.clock.now_ns()) >= until_ns:
                return
        self.market.feed_state = FeedState.STOPPED if self._stopping else FeedState.ENDED

    async def _after_event(self, event) -> None:
        self.rate.tick()
        if self.progress_hook is not None and self.rate.count % 2048 == 0:
            self.progress_hook()
        symbol = getattr(event, "symbol", None)
        if symbol is not None:
            self._note_first_price(symbol)
            if symbol in self.portfolio.positions:
                await self._apply_risk_rules(symbol)
        await self.on_market_event(event)

    async def on_market_event(self, event) -> None:
        """The decision step runs every `decision_interval_s` of event time."""
        orch = self.orchestrator
        if orch is None or self.first_event_ns is None:
            return
        if isinstance(event, BookEvent):
            orch.builder.observe_books(self.market)
        if orch.due(self.clock.now_ns()):
            await self._decision_step(orch)

    async def _decision_step(self, orch: Orchestrator) -> None:
        pos = self.portfolio.position(self.traded)
        try:
            signal = orch.decide(orch.position_info(pos, self.portfolio.equity(self.prices())), self.portfolio.balance)
        except Exception as exc:  # a model that cannot run disables predictions, loudly
            log.exception("decision step failed")
            self._disable_models(f"predictions disabled: {exc}")
            return
        self.signals += 1
        await self.ledger.record_signals(orch.take_unsaved())
        for matured in orch.labeler.advance(self.clock.now_ns(), self.market[self.traded].mid):
            task = asyncio.create_task(self._train_labels(matured))
            self._label_tasks.add(task)
            task.add_done_callback(self._label_tasks.discard)
        if not self.auto or signal["confidence"] < self.settings.models.confidence_threshold:
            return
        if not FeedState(self.market.feed_state).healthy:
            return  # auto-trading pauses while the feed is not healthy
        try:
            if pos is None:
                await self.submit(Side(signal["action"]), source="auto", signal=signal)
            elif pos.side.value != signal["action"]:
                await self.close_position(source="auto")
        except OrderRejected as exc:
            self.note(f"auto {signal['action']} refused: {exc}")

    async def _train_labels(self, matured) -> None:
        """Multi-horizon outcome labels: persisted, then trained into the CNN off the loop."""
        try:
            if self.orchestrator is not None:
                await self.ledger.record_signals(self.orchestrator.take_unsaved(force=True))
            await self.ledger.record_horizon_outcomes(matured.rows)
            events = await asyncio.wrap_future(self.trainer.submit_cnn_labels(matured.market_tensor, matured.labels))
            await self.ledger.complete_training(None, events, self.clock.now_ns(), kind="horizon_label")
        except Exception:
            log.exception("horizon-label training failed for signal %s", matured.signal_id)

    def _disable_models(self, reason: str) -> None:
        self.models_status = reason
        self.orchestrator = None
        self.auto = False
        self.note(reason)

    async def drain(self) -> None:
        """Wait for outcome processing (rewards, training) still in flight."""
        await self.outcomes.drain()
        if self._label_tasks:
            await asyncio.gather(*self._label_tasks, return_exceptions=True)

    def training_counts(self) -> dict[str, int]:
        """Closed trades each model trained on in this session."""
        return dict(self.session_training)

    def stop(self) -> None:
        self._stopping = True
        self._resume.set()

    async def close(self) -> None:
        self.stop()
        if self._stream is not None and not self._running:
            await self._stream.aclose()  # a running loop sees _stopping and ends by itself
        self._stream = None
        await self.venue.close()
        await self.executor.close()
        await self.outcomes.stop()
        if self.trainer is not None:
            await asyncio.to_thread(self.trainer.close)  # saves checkpoints, joins the thread
            self.trainer = None
        if self.ledger is not None:
            if self.orchestrator is not None:
                await self.ledger.record_signals(self.orchestrator.take_unsaved(force=True))
            await self.ledger.close()
            self.ledger = None

    # -- commands -------------------------------------------------------------------------
    def pause(self, paused: bool | None = None) -> bool:
        """Pause or resume the feed (toggle when `paused` is None); returns the new state."""
        want = self._resume.is_set() if paused is None else paused
        if want:
            self._resume.clear()
        else:
            self._resume.set()
        return want

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def note(self, text: str) -> None:
        log.info(text)
        self.messages.appendleft(text)

    async def submit(
        self,
        side: Side,
        qty: float | None = None,
        symbol: str | None = None,
        source: str = "manual",
        signal: dict | None = None,
    ) -> FillPlan:
        """Fill a market order on paper; durable in the ledger before it becomes visible.

        Raises OrderRejected with a reason the trader can read."""
        symbol = symbol or self.traded
        if symbol not in self.market.by_symbol:
            raise OrderRejected(f"unknown symbol {symbol}")
        qty = self.settings.order_qty_for(symbol) if qty is None else qty
        if self.ledger is None:
            raise OrderRejected("engine is not started")
        if not self.orders_confirmed:
            raise OrderRejected("live orders are not confirmed yet")
        async with self._order_lock:
            now = self.clock.now_ns()
            pos = self.portfolio.position(symbol)
            opens = pos is None or (pos.side is not side and qty > pos.qty)
            if opens and signal is None:
                signal = await self.entry_signal(symbol, side, source, now)
            order = OrderRequest(symbol, side, qty, source, signal["id"] if (opens and signal) else None)
            fill = await self.executor.execute(order, self.market[symbol].book, now)
            plan = self.portfolio.plan_fill(fill)
            if plan.after is not None and plan.after.qty * fill.price > self.settings.trading.max_position_notional:
                raise OrderRejected(
                    f"position would be {plan.after.qty * fill.price:,.0f} {symbol.split('/')[1]}, over"
                    f" max_position_notional {self.settings.trading.max_position_notional:,.0f}"
                )
            link = None
            if opens and signal is not None:
                await self._persist_signal(signal)
                link = (signal["id"], signal.get("contributions", {}))
            await self.ledger.record_fill(plan, self.venue.name, link)
            self.portfolio.apply(plan)
        if opens:
            self.trades_opened += 1
            if signal is not None and plan.after is not None:
                self.on_position_opened(plan.after, signal)
        if plan.closed is not None:
            await self._on_closed(plan.closed)
        return plan

    async def close_position(self, symbol: str | None = None, source: str = "manual") -> FillPlan:
        symbol = symbol or self.traded
        pos = self.portfolio.position(symbol)
        if pos is None:
            raise OrderRejected(f"no open {symbol} position")
        return await self.submit(pos.side.opposite, pos.qty, symbol, source)

    async def entry_signal(self, symbol: str, side: Side, source: str, ts_ns: int) -> dict:
        """The signal a manual position is linked to: the models' state and outputs at entry,
        so they learn from manual trades too; without models, a signal saying why."""
        if self.orchestrator is not None and symbol == self.traded:
            pos = self.portfolio.position(symbol)
            info = self.orchestrator.position_info(pos, self.portfolio.equity(self.prices()))
            return self.orchestrator.decide(info, self.portfolio.balance, kind="manual", forced_action=side.value)
        return manual_signal_without_models(symbol, side.value, ts_ns, self.venue.name, self.models_status,
                                            self.portfolio.balance, entry_volatility_bp(self.market, symbol))

    async def _persist_signal(self, signal: dict) -> None:
        """The opening signal (and the batch of decisions before it) and its state arrays."""
        pending = self.orchestrator.take_unsaved(force=True) if self.orchestrator else []
        await self.ledger.record_signals(pending + [signal])
        if "state" in signal:
            signal["state_ref"] = f"signal_states:{signal['id']}"
            await self.ledger.save_signal_state(signal["id"], signal["schema"], signal["state"])

    def on_position_opened(self, position: Position, signal: dict) -> None:
        self.tracker.register_signal(signal["id"], signal, position.id)

    def toggle_auto(self) -> tuple[bool, str]:
        """Auto-trading needs models; returns (state, reason when refused)."""
        if self.orchestrator is None:
            return False, f"auto-trading unavailable: {self.models_status}"
        self.auto = not self.auto
        return self.auto, ""

    @property
    def auto_available(self) -> bool:
        return self.orchestrator is not None

    # -- internals ------------------------------------------------------------------------
    def _note_first_price(self, symbol: str) -> None:
        if symbol not in self._first_price:
            px = self.market[symbol].last_price
            if px is not None:
                self._first_price[symbol] = px

    async def _apply_risk_rules(self, symbol: str) -> None:
        pos = self.portfolio.position(symbol)
        mark = self.market[symbol].mid
        if pos is None or mark is None:
            return
        reason = exit_reason(pos, mark, self.clock.now_ns(), self.settings.risk)
        if reason is None:
            return
        try:
            await self.close_position(symbol, source="rule")
            self.note(f"{symbol} position closed by {reason}")
        except OrderRejected as exc:
            self.note(f"{symbol} {reason} close refused: {exc}")

    async def _on_closed(self, closed: ClosedTrade) -> None:
        row = await self.ledger.closed_trade(closed.id)
        self.recent_trades.appendleft(trade_view(row))
        self.trade_outcomes.append(
            TradeOutcome(closed.pnl, row.get("reward"), closed.source, closed.open_source,
                         dominant_model(row.get("models")), closed.exit_ns)
        )
        for listener in self.closed_listeners:
            listener(closed)
        self.outcomes.submit(closed.id)

    def _on_outcome(self, row: dict, reward: Reward | None, events: list[dict]) -> None:
        self.refresh_trade(row)
        if reward is not None:
            self.reward_log.appendleft(f"{row['symbol']} {row['source']} {reward.log_line()}")
        for model in {e["model"] for e in events}:
            self.session_training[model] = self.session_training.get(model, 0) + 1

    def refresh_trade(self, row: dict) -> None:
        """Replace a shown closed trade (after its reward or training landed)."""
        view = trade_view(row)
        for i, t in enumerate(self.recent_trades):
            if t.id == view.id:
                self.recent_trades[i] = view
                break
        for i in range(len(self.trade_outcomes) - 1, -1, -1):
            if self.trade_outcomes[i].exit_ns == view.exit_ns and self.trade_outcomes[i].pnl == view.pnl:
                o = self.trade_outcomes[i]
                self.trade_outcomes[i] = TradeOutcome(o.pnl, view.reward, o.source, o.open_source,
                                                dominant_model(view.models), o.exit_ns)
                break

    # -- views ----------------------------------------------------------------------------
    def prices(self) -> dict[str, float | None]:
        return {s: m.mid for s, m in self.market.by_symbol.items()}

    def model_views(self) -> tuple[ModelView, ...]:
        if self.trainer is None:
            return ()
        views = []
        for name, m in self.trainer.metrics().items():
            views.append(ModelView(name, m["steps"], m["last_loss"], tuple(m["history"][-200:]),
                                   m["steps_per_s"] or None, m["device"], m["nan_skips"]))
        return tuple(views)

    def last_signal(self) -> dict | None:
        last = self.orchestrator.last if self.orchestrator else None
        if last is None:
            return None
        return {k: last[k] for k in ("ts_ns", "action", "confidence", "contributions")}

    def snapshot(self) -> EngineSnapshot:
        now = self.clock.now_ns()
        markets = []
        for sym, m in self.market.by_symbol.items():
            last = m.last_price
            first = self._first_price.get(sym)
            markets.append(
                MarketView(
                    symbol=sym, last=last, bid=m.book.best_bid, ask=m.book.best_ask,
                    change_pct=(100.0 * (last - first) / first) if (last is not None and first) else None,
                    prices=tuple(p for _, p in self.market.price_history[sym]),
                    trades=m.counters.trades, book_updates=m.counters.book_updates,
                )
            )
        positions = []
        for p in self.portfolio.positions.values():
            mark = self.market[p.symbol].mid
            positions.append(
                PositionView(p.id, p.symbol, p.side.value, p.qty, p.entry_price, mark,
                             p.unrealized(mark) if mark is not None else None, p.hold_s(now), p.source, p.signal_id)
            )
        span = now - self.first_event_ns if self.first_event_ns is not None else None
        return EngineSnapshot(
            venue=self.venue.name, venue_label=self.venue.label, symbols=self.venue.symbols, traded=self.traded,
            event_ns=now, feed_state=self.market.feed_state, feed_detail=self.market.feed_detail,
            paused=self.paused, speed=self.speed_text, events=self.market.events,
            rejected=self.market.rejected.total, events_per_s=self.rate.rate(), db_path=self.db_path,
            balance=self.portfolio.balance, equity=self.portfolio.equity(self.prices()),
            markets=tuple(markets), positions=tuple(positions), trades=tuple(self.recent_trades),
            reward_log=tuple(self.reward_log), stats=win_stats(self.trade_outcomes, span),
            auto=self.auto, auto_available=self.auto_available, models_status=self.models_status,
            models=self.model_views(), last_signal=self.last_signal(), messages=tuple(self.messages),
        )
