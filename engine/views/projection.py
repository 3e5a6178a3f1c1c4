"""The engine projected into immutable views for the front ends.

`TradeLog` keeps the closed trades as the panes show them (restored from the ledger at
start, updated when a reward or training lands); `project` builds an `EngineSnapshot` from
the live objects. The TUI calls it at <= 10 Hz through `Engine.snapshot()` and renders only
what it returns, so no widget ever reads engine state while the feed mutates it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine.core.units import NS_PER_S
from engine.decision.ports import ModelMetrics
from engine.market.state import MarketState
from engine.trading.portfolio import Portfolio
from engine.views.desk import DeskView
from engine.views.snapshot import EngineSnapshot, MarketView, ModelView, PositionView, ProvenanceView, TradeView
from engine.views.stats import TradeOutcome, dominant_model, outcomes_from_rows, win_stats

RECENT_TRADES = 200
LOSS_POINTS = 200  # loss history points per model the loss pane plots


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


def trade_view(row: Mapping[str, Any]) -> TradeView:
    """A ledger closed-trade row as the panes show it."""
    return TradeView(
        id=row["id"], symbol=row["symbol"], side=row["side"], qty=row["qty"], entry=row["entry_price"],
        exit=row["exit_price"], pnl=row["pnl"], fees=row["fees"],
        hold_s=(row["exit_ns"] - row["entry_ns"]) / NS_PER_S, source=row["source"],
        reward=row.get("reward"), reward_components=row.get("reward_components"), models=row.get("models") or {},
        open_source=row.get("open_source") or "", entry_ns=row["entry_ns"], exit_ns=row["exit_ns"],
    )


def _outcome(row: Mapping[str, Any]) -> TradeOutcome:
    return TradeOutcome(
        pnl=row["pnl"], reward=row.get("reward"), source=row["source"], open_source=row["open_source"],
        dominant_model=dominant_model(row.get("models")), exit_ns=row["exit_ns"], trade_id=row["id"],
    )


class TradeLog:
    """Recent closed trades (newest first, for the tables) and every outcome of the session
    and the restored history (oldest first, for the win-rate statistics)."""

    def __init__(self) -> None:
        self.recent: deque[TradeView] = deque(maxlen=RECENT_TRADES)
        self.outcomes: list[TradeOutcome] = []

    def restore(self, rows_newest_first: list[dict[str, Any]]) -> None:
        for row in reversed(rows_newest_first):
            self.recent.appendleft(trade_view(row))
        self.outcomes = outcomes_from_rows(rows_newest_first)

    def add(self, row: Mapping[str, Any]) -> None:
        self.recent.appendleft(trade_view(row))
        self.outcomes.append(_outcome(row))

    def refresh(self, row: Mapping[str, Any]) -> None:
        """Replace a shown trade once its reward or training has landed (by trade id)."""
        view = trade_view(row)
        for i, t in enumerate(self.recent):
            if t.id == view.id:
                self.recent[i] = view
                break
        for i in range(len(self.outcomes) - 1, -1, -1):
            if self.outcomes[i].trade_id == view.id:
                self.outcomes[i] = _outcome(row)
                break


def model_views(metrics: Mapping[str, ModelMetrics]) -> tuple[ModelView, ...]:
    return tuple(
        ModelView(name, m["steps"], m["last_loss"], tuple(m["history"][-LOSS_POINTS:]), m["steps_per_s"] or None,
                  m["device"], m["nan_skips"], m.get("warming_up", 0))
        for name, m in metrics.items()
    )


def market_views(market: MarketState, first_prices: Mapping[str, float]) -> tuple[MarketView, ...]:
    views = []
    for sym, m in market.by_symbol.items():
        last, first = m.last_price, first_prices.get(sym)
        views.append(MarketView(
            symbol=sym, last=last, bid=m.book.best_bid, ask=m.book.best_ask,
            change_pct=(100.0 * (last - first) / first) if (last is not None and first) else None,
            prices=tuple(p for _, p in market.price_history[sym]),
            trades=m.counters.trades, book_updates=m.counters.book_updates,
        ))
    return tuple(views)


def position_views(portfolio: Portfolio, market: MarketState, now_ns: int) -> tuple[PositionView, ...]:
    views = []
    for p in portfolio.positions.values():
        mark = market[p.symbol].mid
        views.append(PositionView(p.id, p.symbol, p.side.value, p.qty, p.entry_price, mark,
                                  p.unrealized(mark) if mark is not None else None, p.hold_s(now_ns), p.source))
    return tuple(views)


def prices(market: MarketState) -> dict[str, float | None]:
    return {s: m.mid for s, m in market.by_symbol.items()}


def session_span_ns(now_ns: int, first_event_ns: int | None) -> int | None:
    return now_ns - first_event_ns if first_event_ns is not None else None


def project(*, venue: str, venue_label: str, symbols: tuple[str, ...], traded: str, market: MarketState,
            portfolio: Portfolio, trades: TradeLog, first_prices: Mapping[str, float], first_event_ns: int | None,
            paused: bool, speed: str, events_per_s: float | None, db_path: str, order_qty: float, auto: bool,
            auto_available: bool, models_status: str, metrics: Mapping[str, ModelMetrics],
            messages: Iterable[str], training_lag_p50_s: float | None = None,
            venue_detail: str = "", models_provenance: Mapping[str, Mapping[str, Any]] | None = None,
            desk: DeskView | None = None) -> EngineSnapshot:
    now = market.clock.now_ns()
    return EngineSnapshot(
        venue=venue, venue_label=venue_label, symbols=symbols, traded=traded, event_ns=now,
        feed_state=market.feed_state, feed_detail=market.feed_detail, paused=paused, speed=speed,
        events=market.events, rejected=market.rejected.total, events_per_s=events_per_s, db_path=db_path,
        equity=portfolio.equity(prices(market)), order_qty=order_qty,
        markets=market_views(market, first_prices), positions=position_views(portfolio, market, now),
        trades=tuple(trades.recent), stats=win_stats(trades.outcomes, session_span_ns(now, first_event_ns)),
        auto=auto, auto_available=auto_available, models_status=models_status, models=model_views(metrics),
        messages=tuple(messages), training_lag_p50_s=training_lag_p50_s, venue_detail=venue_detail,
        models_provenance=provenance_views(models_provenance or {}), desk=desk,
    )


def provenance_views(provenance: Mapping[str, Mapping[str, Any]]) -> tuple[ProvenanceView, ...]:
    return tuple(ProvenanceView(
        model=name, checkpoint=p["checkpoint"], trained_on=tuple(p["trained_on"]), data_detail=p["data_detail"],
        other_venue=bool(p["other_venue"]), trade_outcomes=p["trade_outcomes"],
        ledger_trade_outcomes=p["ledger_trade_outcomes"], retrained=int(p["retrained"]), flag=p["flag"],
    ) for name, p in provenance.items())
