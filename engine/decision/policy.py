"""The decision step: state -> the three models -> one ensemble signal with contributions.

Each model gives a probability that BUY is right: the CNN from its 5m and 15m direction
heads (P(up) against P(down)), the DQN from softmax(Q), the COB model from softmax of its
logits. A model's confidence is |2p - 1|; its contribution is its base weight (config) times
its confidence, normalised to sum 1. The ensemble's P(buy) is the contribution-weighted
mean; the action is BUY above 0.5, SELL below; the signal's confidence is max(p, 1 - p).
HOLD is not an action: a signal under the confidence threshold simply does not trade.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import numpy as np

from engine.market.bars import COL
from engine.config import Settings
from engine.learning.horizons import HorizonLabeler
from engine.market.state import MarketState
from engine.trading.portfolio import Position
from engine.features.builder import PositionInfo, StateBuilder
from engine.learning.tracker import SignalPositionTracker

log = logging.getLogger("engine.decision.policy")

MODELS = ("cnn", "dqn", "cob_rl")
CNN_DIRECTION_HORIZONS = (1, 2)  # 5m and 15m heads (models/cnn.py layout)
SIGNAL_FLUSH = 64                # decision signals written per batch
CONFIDENCE_FLOOR = 0.5


def entry_volatility_bp(market: MarketState, symbol: str, bars: int = 60) -> float | None:
    """1m log-return volatility in bp over the last hour, known at decision time."""
    closes = market[symbol].bars.rings["1m"].last(bars + 1)[:, COL["close"]]
    if len(closes) < 5:
        return None
    r = np.diff(np.log(closes))
    return float(np.std(r) * 1e4)


def range_position(market: MarketState, symbol: str, bars: int = 60) -> float | None:
    """Where the last 1m close sits in the last hour's high-low range (0 = at the low,
    1 = at the high), known at decision time; None without 5 bars or with a flat range."""
    recent = market[symbol].bars.rings["1m"].last(bars)
    if len(recent) < 5:
        return None
    low, high = float(recent[:, COL["low"]].min()), float(recent[:, COL["high"]].max())
    if high <= low:
        return None
    return (float(recent[-1, COL["close"]]) - low) / (high - low)


def _p_buy_from_two(logits: np.ndarray) -> float:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max()
    e = np.exp(z)
    return float(e[0] / e.sum())


def combine(p_buy: dict[str, float], base: dict[str, float]) -> tuple[str, float, dict[str, float]]:
    """(action, confidence, contributions) from per-model P(buy) and base weights."""
    raw = {m: base.get(m, 0.0) * (CONFIDENCE_FLOOR + abs(2.0 * p - 1.0)) for m, p in p_buy.items()}
    total = sum(raw.values())
    contributions = {m: w / total for m, w in raw.items()}
    p = sum(contributions[m] * p_buy[m] for m in p_buy)
    action = "buy" if p >= 0.5 else "sell"
    return action, max(p, 1.0 - p), contributions


class Orchestrator:
    def __init__(self, settings: Settings, market: MarketState, traded: str, venue: str, trainer: Any) -> None:
        self.settings = settings
        self.market = market
        self.traded = traded
        self.venue = venue
        self.trainer = trainer
        reference = next((s for s in market.symbols if s != traded), traded)
        self.builder = StateBuilder(traded=traded, reference=reference)
        self.tracker = SignalPositionTracker()
        self.labeler = HorizonLabeler(settings.models.label_every_s, 2e4 * settings.trading.taker_fee)
        self.interval_ns = int(settings.engine.decision_interval_s * 1e9)
        self.next_ns: int | None = None
        self.last: dict[str, Any] | None = None
        self.unsaved: list[dict[str, Any]] = []
        self.count = 0

    def due(self, now_ns: int) -> bool:
        if self.next_ns is None:
            self.next_ns = now_ns
        if now_ns < self.next_ns:
            return False
        self.next_ns = now_ns - now_ns % self.interval_ns + self.interval_ns
        return True

    def position_info(self, pos: Position | None, equity: float) -> PositionInfo:
        common = {"configured_qty": self.settings.order_qty_for(self.traded), "equity": equity,
                  "start_equity": self.settings.trading.quote_balance}
        if pos is None:
            return PositionInfo(**common)
        return PositionInfo(side=pos.side.sign, qty=pos.qty, entry_price=pos.entry_price, entry_ns=pos.opened_ns,
                            **common)

    def decide(self, info: PositionInfo | None, balance: float, kind: str = "auto",
               forced_action: str | None = None) -> dict[str, Any]:
        """Run the models on the current state; return the signal (not yet persisted)."""
        now = self.market.clock.now_ns()
        state = self.builder.build(self.market, info)
        pred = self.trainer.predict(state.vector, state.market_tensor, state.cob)
        state = state.with_cnn(pred.cnn_hidden, pred.cnn_predictions)
        probs = np.asarray(pred.cnn_predictions[:12]).reshape(4, 3)
        up = float(np.mean([probs[h, 2] for h in CNN_DIRECTION_HORIZONS]))
        down = float(np.mean([probs[h, 0] for h in CNN_DIRECTION_HORIZONS]))
        p_buy = {
            "cnn": up / (up + down) if up + down > 0 else 0.5,
            "dqn": _p_buy_from_two(pred.dqn_q),
            "cob_rl": _p_buy_from_two(pred.cob_logits),
        }
        action, confidence, contributions = combine(p_buy, self.settings.models.base_weights)
        signal = {
            "id": f"S{now // 1_000_000}-{uuid.uuid4().hex[:8]}",
            "ts_ns": now,
            "symbol": self.traded,
            "kind": kind,
            "action": forced_action or action,
            "model_action": action,
            "confidence": confidence,
            "contributions": contributions,
            "outputs": {
                "p_buy": p_buy,
                "cnn": {"p_up_5m_15m": up, "p_down_5m_15m": down},
                "dqn": {"q": [float(q) for q in pred.dqn_q]},
                "cob_rl": {"logits": [float(x) for x in pred.cob_logits], "value": float(pred.cob_value)},
                "context": {"balance": balance, "sigma_1m_bp": entry_volatility_bp(self.market, self.traded),
                            "range_pos_1h": range_position(self.market, self.traded),
                            "latency_ms": pred.latency_ms},
            },
            "model_versions": dict(pred.versions),
            "venue": self.venue,
            # Where the state can be had again: the schema and event time it was built at
            # (rebuildable by replaying the same market); opening signals also keep the arrays.
            "state_ref": f"{self.venue}:{state.schema}@{now}",
            "state": {"vector": state.vector, "market_tensor": state.market_tensor, "cob": state.cob},
            "schema": state.schema,
        }
        self.count += 1
        if kind == "auto":
            self.last = signal
            self.unsaved.append(signal)
            self.labeler.track(signal["id"], now, self.market[self.traded].mid, state.market_tensor)
        return signal

    def take_unsaved(self, force: bool = False) -> list[dict[str, Any]]:
        """Decision signals due for a batched write (all of them when `force`)."""
        if not force and len(self.unsaved) < SIGNAL_FLUSH:
            return []
        out, self.unsaved = self.unsaved, []
        return out


def manual_signal_without_models(symbol: str, side: str, ts_ns: int, venue: str, reason: str,
                                 balance: float, sigma_1m_bp: float | None) -> dict[str, Any]:
    """A manual trade's signal when no model can run: it records why, and trains nothing."""
    return {
        "id": f"M{ts_ns // 1_000_000}-{uuid.uuid4().hex[:8]}", "ts_ns": ts_ns, "symbol": symbol, "kind": "manual",
        "action": side, "confidence": None, "contributions": {},
        "outputs": {"models": reason, "context": {"balance": balance, "sigma_1m_bp": sigma_1m_bp}},
        "model_versions": {}, "venue": venue,
    }

