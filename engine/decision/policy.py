"""The decision step: when to decide, what to do, and the signal a decision produces.

Every `decision_interval_s` of event time the policy builds the model state (causally, from
the market as it is now), asks the models for their outputs, combines them into one raw
score per side (ensemble.py; it weights what each model learns from the outcome), turns the
models' scores into calibrated probabilities that the side's trade nets > 0 (calibration.py,
one fitted coefficient per model), and picks an action:
  - flat: the side with the higher probability if it reaches the threshold, else HOLD
    (stay flat). While the calibrator has too few outcomes there is no probability, and the
    greedy action is HOLD ("calibrating");
  - holding a side: HOLD until the position is one trade horizon old, then EXIT when the
    opposite side reaches the threshold or has become the more likely winner, else HOLD.
    Why the wait: the probability the entry acted on is about the net move over the trade
    horizon, and the calibration is scored on exactly that move; re-deciding every second
    on estimates that share most of their window with the entry's closed half the greedy
    trades of the lead-lag SIM within 10 s, before the move they bet on had happened
    (gross -5 bp a trade, against +13 bp for those held a minute or more). Stops, the
    max-hold rule and manual closes are not held back; on bars decided once a horizon
    apart the wait never binds;
  - while the calibration has not beaten the base rate out of sample ("no skill shown"),
    HOLD whether flat or holding: the probabilities are not worth acting on.
On paper with auto-trading on, exploration.py may replace the greedy action by a draw; the
signal records which (`policy`) and the propensity of the action taken. What happens next
(an order, a close, or nothing) is the runtime's business; labels and links are the
learning stage's.
"""

from __future__ import annotations

from engine.config import Settings
from engine.core.enums import Action, Policy, Side, Source
from engine.core.units import NS_PER_S
from engine.decision.calibration import Calibrator, inputs_of
from engine.decision.ensemble import cnn_classes, combine, model_scores
from engine.decision.exploration import Explorer
from engine.decision.ports import Learner, StateArrays
from engine.decision.signal import Signal, new_signal_id
from engine.features.builder import PositionInfo, State, StateBuilder
from engine.features.context import entry_volatility_bp, range_position
from engine.features.schema import HORIZONS
from engine.market.state import MarketState

SIGNAL_FLUSH = 64  # decision signals written to the ledger per batch


def build_policy(settings: Settings, market: MarketState, traded: str, venue: str, learner: Learner) -> "DecisionPolicy":
    """The decision step of one engine, with its calibrator and exploration from the config."""
    m = settings.models
    return DecisionPolicy(
        market, traded, venue, learner, base_weights=m.base_weights,
        decision_interval_s=settings.engine.decision_interval_s, threshold=m.confidence_threshold,
        trade_horizon=m.trade_horizon,
        calibrator=Calibrator(window=m.calibration_window, refit_every=m.calibration_refit_every,
                              min_pairs=m.calibration_min_pairs),
        explorer=Explorer(start_per_hour=m.explore_per_hour_start, floor_per_hour=m.explore_per_hour_floor,
                          half_life_labels=m.explore_half_life_labels, seed=settings.sim.seed),
    )


class DecisionPolicy:
    def __init__(self, market: MarketState, traded: str, venue: str, learner: Learner, *,
                 base_weights: dict[str, float], decision_interval_s: float, threshold: float,
                 trade_horizon: str, calibrator: Calibrator, explorer: Explorer) -> None:
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
        self.threshold = threshold
        self.trade_horizon = trade_horizon
        self.min_hold_ns = dict(HORIZONS)[trade_horizon] * NS_PER_S  # see the module docstring
        self.calibrator = calibrator
        self.explorer = explorer
        self._last_decision_ns: int | None = None

    def due(self, now_ns: int) -> bool:
        """True once per decision interval, on the grid of event time."""
        if self.next_ns is None:
            self.next_ns = now_ns
        if now_ns < self.next_ns:
            return False
        self.next_ns = now_ns - now_ns % self.interval_ns + self.interval_ns
        return True

    def decide(self, info: PositionInfo | None, balance: float, kind: Source = Source.AUTO,
               forced_action: Side | None = None, holding: Side | None = None, explore: bool = False) -> Signal:
        """Run the models on the current state; return the signal (not yet persisted).
        `holding` is the side of the open position, if any; `explore` allows an exploration
        draw (auto-trading on paper)."""
        now = self.market.clock.now_ns()
        state = self.builder.build(self.market, info)
        pred = self.learner.predict(state.vector, state.market_tensor, state.cob)
        state = state.with_cnn(pred.cnn_hidden, pred.cnn_predictions)
        per_model = model_scores(pred, self.trade_horizon)
        scores, contributions = combine(per_model, self.base_weights)
        inputs = {side: inputs_of(per_model, side) for side in Side}
        p_win = {side: self.calibrator.p_win(inputs[side]) for side in Side}
        skill = self.calibrator.skill
        young = holding is not None and self._younger_than_horizon(info, now)
        greedy = greedy_action(p_win, holding, self.threshold, scores, skilled=skill.shown, young=young)
        decision, policy, propensity = greedy, Policy.GREEDY, 1.0
        if kind is Source.AUTO:
            available = available_actions(holding, young)
            dt_s = (now - self._last_decision_ns) / NS_PER_S if self._last_decision_ns is not None else 0.0
            self._last_decision_ns = now
            epsilon = self.explorer.epsilon(self.calibrator.pairs // 2, dt_s)
            decision, policy, propensity = self.explorer.choose(greedy, available, epsilon, enabled=explore)
        side = forced_action or decision.side or (holding.opposite if decision is Action.EXIT and holding
                                                  else max(Side, key=lambda s: scores[s]))
        down, flat, up = cnn_classes(pred.cnn_predictions, self.trade_horizon)
        signal = Signal(
            id=new_signal_id("S", now), ts_ns=now, symbol=self.traded, kind=kind,
            action=side, venue=self.venue, confidence=scores[side], model_action=side if forced_action is None
            else (decision.side or side), contributions=contributions,
            decision=Action(forced_action.value) if forced_action else decision, policy=policy,
            propensity=propensity, p_win=p_win[side],
            outputs={
                "scores": {str(s): float(v) for s, v in scores.items()},
                "p_win": {str(s): v for s, v in p_win.items()},
                "calibration": {str(s): list(v) for s, v in inputs.items()},
                "skill": skill.as_dict(),
                "greedy": str(greedy),
                "cnn": {"horizon": self.trade_horizon, "p_down": down, "p_flat": flat, "p_up": up},
                "dqn": {"q": [float(q) for q in pred.dqn_q]},
                "cob_rl": ({"logits": [float(x) for x in pred.cob_logits], "value": float(pred.cob_value)}
                           if pred.cob_active else {"off": "no order book"}),
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

    def _younger_than_horizon(self, info: PositionInfo | None, now_ns: int) -> bool:
        """The open position was entered less than one trade horizon ago."""
        entry = info.entry_ns if info is not None else None
        return entry is not None and now_ns - entry < self.min_hold_ns

    def take_unsaved(self, force: bool = False) -> list[Signal]:
        """Decision signals due for a batched write (all of them when `force`)."""
        if not force and len(self.unsaved) < SIGNAL_FLUSH:
            return []
        out, self.unsaved = self.unsaved, []
        return out


def available_actions(holding: Side | None, young: bool = False) -> tuple[Action, ...]:
    """What a decision may choose from: flat BUY, SELL or HOLD; holding HOLD or EXIT; a
    position younger than the trade horizon HOLD alone (module docstring)."""
    if holding is None:
        return (Action.BUY, Action.SELL, Action.HOLD)
    return (Action.HOLD,) if young else (Action.HOLD, Action.EXIT)


def greedy_action(p_win: dict[Side, float | None], holding: Side | None, threshold: float,
                  raw: dict[Side, float] | None = None, skilled: bool = True, young: bool = False) -> Action:
    """The models' own choice (module docstring); HOLD while there is no calibrated probability
    or no skill shown (calibration.py), except at threshold 0, which trades every decision on
    the raw scores (drills and tests that need orders at once, live orders included, where
    nothing explores); HOLD while the position held is `young` (younger than the horizon)."""
    if holding is not None and young:
        return Action.HOLD
    if any(p is None for p in p_win.values()) or not skilled:
        if threshold > 0 or raw is None:
            return Action.HOLD
        p_win = dict(raw)
    if holding is None:
        best = max(Side, key=lambda s: p_win[s])
        return Action(best.value) if p_win[best] >= threshold else Action.HOLD
    against = p_win[holding.opposite]
    return Action.EXIT if against >= threshold or against > p_win[holding] else Action.HOLD
