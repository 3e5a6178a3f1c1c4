"""The decision step: when to decide, and the signal a decision produces.

Every `decision_interval_s` of event time the policy builds the model state (causally, from
the market as it is now), asks the models for their outputs, combines them (ensemble.py)
and returns a `Signal`. What happens next (trade, close, or nothing under the confidence
threshold) is the runtime's business; labels and links are the learning stage's.
"""

from __future__ import annotations

from engine.core.enums import Side, Source
from engine.core.units import NS_PER_S
from engine.decision.ensemble import cnn_up_down, combine, model_p_buy
from engine.decision.ports import Learner, StateArrays
from engine.decision.signal import Signal, new_signal_id
from engine.features.builder import PositionInfo, State, StateBuilder
from engine.features.context import entry_volatility_bp, range_position
from engine.market.state import MarketState

SIGNAL_FLUSH = 64  # decision signals written to the ledger per batch


class DecisionPolicy:
    def __init__(self, market: MarketState, traded: str, venue: str, learner: Learner, *,
                 base_weights: dict[str, float], decision_interval_s: float) -> None:
        self.market = market
        self.traded = traded
        self.venue = venue
        self.learner = learner
        self.base_weights = base_weights
        reference = next((s for s in market.symbols if s != traded), traded)
        self.builder = StateBuilder(traded=traded, reference=reference)
        self.interval_ns = int(decision_interval_s * NS_PER_S)
        self.next_ns: int | None = None
        self.last: Signal | None = None
        self.last_state: State | None = None
        self.unsaved: list[Signal] = []

    def due(self, now_ns: int) -> bool:
        """True once per decision interval, on the grid of event time."""
        if self.next_ns is None:
            self.next_ns = now_ns
        if now_ns < self.next_ns:
            return False
        self.next_ns = now_ns - now_ns % self.interval_ns + self.interval_ns
        return True

    def decide(self, info: PositionInfo | None, balance: float, kind: Source = Source.AUTO,
               forced_action: Side | None = None) -> Signal:
        """Run the models on the current state; return the signal (not yet persisted)."""
        now = self.market.clock.now_ns()
        state = self.builder.build(self.market, info)
        pred = self.learner.predict(state.vector, state.market_tensor, state.cob)
        state = state.with_cnn(pred.cnn_hidden, pred.cnn_predictions)
        p_buy = model_p_buy(pred)
        up, down = cnn_up_down(pred.cnn_predictions)
        action, confidence, contributions = combine(p_buy, self.base_weights)
        signal = Signal(
            id=new_signal_id("S", now), ts_ns=now, symbol=self.traded, kind=kind,
            action=forced_action or action, venue=self.venue, confidence=confidence, model_action=action,
            contributions=contributions,
            outputs={
                "p_buy": p_buy,
                "cnn": {"p_up_5m_15m": up, "p_down_5m_15m": down},
                "dqn": {"q": [float(q) for q in pred.dqn_q]},
                "cob_rl": {"logits": [float(x) for x in pred.cob_logits], "value": float(pred.cob_value)},
                "context": {"balance": balance, "sigma_1m_bp": entry_volatility_bp(self.market, self.traded),
                            "range_pos_1h": range_position(self.market, self.traded),
                            "latency_ms": pred.latency_ms},
            },
            model_versions=dict(pred.versions),
            # Where the state can be had again: the schema and event time it was built at
            # (rebuildable by replaying the same market); opening signals also keep the arrays.
            state_ref=f"{self.venue}:{state.schema}@{now}",
            state=StateArrays(state.vector, state.market_tensor, state.cob),
            schema=state.schema,
        )
        if kind is Source.AUTO:
            self.last = signal
            self.unsaved.append(signal)
        return signal

    def take_unsaved(self, force: bool = False) -> list[Signal]:
        """Decision signals due for a batched write (all of them when `force`)."""
        if not force and len(self.unsaved) < SIGNAL_FLUSH:
            return []
        out, self.unsaved = self.unsaved, []
        return out
