"""Immutable views of the engine for front ends. The TUI renders these at <= 10 Hz and
never reaches into live engine objects, so rendering can never race the feed. Every field
here is rendered somewhere (a pane, the status line, the order ticket)."""

from __future__ import annotations

from dataclasses import dataclass, field
from engine.core.units import BP
from engine.views.desk import DeskView
from engine.views.stats import WinStats


@dataclass(frozen=True, slots=True)
class MarketView:
    symbol: str
    last: float | None
    bid: float | None
    ask: float | None
    change_pct: float | None        # since the first price of this session
    prices: tuple[float, ...]       # one point per second of event time, oldest first
    trades: int
    book_updates: int

    @property
    def spread(self) -> float | None:
        return None if self.bid is None or self.ask is None else self.ask - self.bid

    @property
    def spread_bp(self) -> float | None:
        if self.spread is None or self.bid is None or self.ask is None:
            return None
        return BP * self.spread / ((self.bid + self.ask) / 2)


@dataclass(frozen=True, slots=True)
class PositionView:
    id: str
    symbol: str
    side: str
    qty: float
    entry: float
    mark: float | None
    upnl: float | None
    hold_s: float
    source: str


@dataclass(frozen=True, slots=True)
class TradeView:
    id: str
    symbol: str
    side: str
    qty: float
    entry: float
    exit: float
    pnl: float
    fees: float
    hold_s: float
    source: str
    reward: float | None
    reward_components: dict[str, float] | None
    models: dict[str, float]
    open_source: str = ""           # who opened it (manual | auto); `source` is who closed it
    entry_ns: int = 0
    exit_ns: int = 0


@dataclass(frozen=True, slots=True)
class ModelView:
    """Training progress of one model as the trainer reports it."""

    name: str
    steps: int
    last_loss: float | None
    losses: tuple[tuple[int, float], ...]
    steps_per_s: float | None
    device: str
    nan_skips: int = 0
    warming_up: int = 0             # outcomes it stored without a step yet (the DQN until its replay holds a batch)


@dataclass(frozen=True, slots=True)
class ProvenanceView:
    """Where one model's weights came from (models/registry.py): the checkpoint loaded
    ("loaded", "none" or "set_aside"), the venue kinds it was trained on, whether that is
    another kind than this session's (only with --models-from-other-venue), the closed
    trades it holds against the ledger's, how many were retrained at start, and any flag."""

    model: str
    checkpoint: str
    trained_on: tuple[str, ...]
    data_detail: str
    other_venue: bool
    trade_outcomes: int | None
    ledger_trade_outcomes: int | None
    retrained: int
    flag: str | None


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    venue: str                      # sim | replay | live
    venue_label: str                # SIM | REPLAY | LIVE
    symbols: tuple[str, ...]
    traded: str
    event_ns: int
    feed_state: str
    feed_detail: str
    paused: bool
    speed: str
    events: int
    rejected: int
    events_per_s: float | None
    db_path: str
    equity: float
    order_qty: float                # the traded symbol's configured order size (the ticket's default)
    markets: tuple[MarketView, ...]
    positions: tuple[PositionView, ...]
    trades: tuple[TradeView, ...]           # newest first
    stats: WinStats
    auto: bool
    auto_available: bool
    models_status: str                      # "ready …" or why predictions are disabled
    models: tuple[ModelView, ...] = ()
    messages: tuple[str, ...] = field(default_factory=tuple)  # newest first: risk closes, refusals
    venue_detail: str = ""                  # after the badge: a SIM market's planted edge ("edge: lead-lag")
    training_lag_p50_s: float | None = None  # median event-time training lag (learning/lag.py); None: none yet
    models_provenance: tuple[ProvenanceView, ...] = ()  # per model, set at start; () without models
    desk: DeskView | None = None            # decision, candles, depth, risk levels, account (views/desk.py)

    def market(self, symbol: str) -> MarketView | None:
        return next((m for m in self.markets if m.symbol == symbol), None)
