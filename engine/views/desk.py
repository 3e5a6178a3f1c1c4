"""The trader's desk views: what the models say now and why auto is (not) trading, candles,
depth, risk levels, account figures and the replay clock, projected from what the engine
already holds. `desk_view(engine)` is called by `Engine.snapshot()`; it reads the engine
through the `DeskSource` protocol (views sit below runtime, so they never import it)."""

from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.config import Settings
from engine.core.enums import FeedState
from engine.core.units import NS_PER_S, TIMEFRAMES
from engine.market.bars import COL
from engine.market.state import MarketState
from engine.trading.portfolio import Portfolio

CANDLES = 120       # bars per timeframe the chart can show
DEPTH_LEVELS = 10   # book levels per side in the ladder
BP_PER_Q = 10.0  # the DQN's Q-values are in units of 10 bp (models/dqn.py BP_PER_REWARD)
REFUSAL_WORDS = ("refused", "rejected")


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One model's output in the last decision: what it says and its share of the blend."""

    name: str
    says: str                       # "buy 0.31  P(up) 0.31 P(flat) 0.52 P(down) 0.17 (1m)"
    score: tuple[float, float] | None  # the model's BUY and SELL scores (decision/ensemble.py)
    contribution: float | None      # its share of the blended decision
    version: int | None


@dataclass(frozen=True, slots=True)
class DecisionView:
    """The last decision signal and whether auto acts on it."""

    ts_ns: int | None
    action: str | None
    confidence: float | None
    threshold: float
    calls: tuple[ModelCall, ...]
    auto: bool
    blocker: str | None             # why auto is not trading now (None: it would act / is in a position)
    p_win: float | None = None      # calibrated probability, when the signal carries one
    policy: str | None = None       # greedy | explore, when the signal carries it
    propensity: float | None = None


@dataclass(frozen=True, slots=True)
class RiskLevels:
    stop: float
    take_profit: float
    max_hold_s: float


@dataclass(frozen=True, slots=True)
class DeskView:
    decision: DecisionView | None
    candles: dict[str, np.ndarray] = field(default_factory=dict)  # timeframe -> (n, 6) t_s, o, h, l, c, v
    bids: np.ndarray | None = None          # (n, 2) price, qty, best first
    asks: np.ndarray | None = None
    risk: dict[str, RiskLevels] = field(default_factory=dict)     # position id -> its levels
    start_equity: float = 0.0
    fees_paid: float = 0.0
    taker_fee: float = 0.0
    speed: float | None = None              # the pacer's factor now (None: max)
    feed_ended: bool = False
    session_s: float | None = None          # event time covered since the first event
    first_event_ns: int | None = None
    total_s: float | None = None            # a replay's whole span of event time, once read
    progress: float | None = None           # the share of it replayed, 0..1


class DeskSource(Protocol):
    settings: Settings
    market: MarketState
    portfolio: Portfolio
    traded: str
    auto: bool
    policy: Any
    messages: Any
    pacer: Any
    first_event_ns: int | None
    replay_span_ns: tuple[int, int] | None



def _p(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and np.isfinite(x) else None


def _lean(score: tuple[float, float] | None) -> str:
    if score is None:
        return "—"
    buy, sell = score
    return f"buy {buy:.2f}" if buy >= sell else f"sell {sell:.2f}"


def model_calls(outputs: dict[str, Any], contributions: dict[str, float], versions: dict[str, int]) -> tuple[ModelCall, ...]:
    """Per model: the side it scores higher with that score, then its raw outputs; only what
    the signal holds (decision/ensemble.py defines the scores)."""
    raw: dict[str, str] = {}
    score: dict[str, tuple[float, float]] = {}
    cnn = outputs.get("cnn") or {}
    up, flat, down = _p(cnn.get("p_up")), _p(cnn.get("p_flat")), _p(cnn.get("p_down"))
    if up is not None and flat is not None and down is not None:
        raw["cnn"] = f"P(up) {up:.2f} P(flat) {flat:.2f} P(down) {down:.2f} ({cnn.get('horizon', '?')})"
        score["cnn"] = (up, down)
    q = (outputs.get("dqn") or {}).get("q")
    if q and len(q) >= 2:
        raw["dqn"] = f"net buy {q[0] * BP_PER_Q:+.1f} bp sell {q[1] * BP_PER_Q:+.1f} bp"
        score["dqn"] = (_sigmoid(q[0]), _sigmoid(q[1]))
    cob = outputs.get("cob_rl") or {}
    if cob.get("logits"):
        raw["cob_rl"] = "logits " + " ".join(f"{v:+.2f}" for v in cob["logits"]) + f" · value {cob.get('value', 0.0):+.3f}"
        buy = _sigmoid(cob["logits"][0] - cob["logits"][1])
        score["cob_rl"] = (buy, 1.0 - buy)
    elif cob.get("off"):
        raw["cob_rl"] = f"off: {cob['off']}"
    return tuple(ModelCall(n, f"{_lean(score.get(n))}  {raw[n]}".rstrip(), score.get(n), contributions.get(n),
                           versions.get(n)) for n in raw)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def auto_blocker(src: DeskSource, p_win: float | None, in_position: bool, decided: bool = True,
                 skill: dict | None = None) -> str | None:
    """The first reason, in the order the decision step checks them, why auto does not act.
    `p_win` is the last decision's calibrated probability (None while calibrating), `skill`
    its calibration's out-of-sample test (engine/decision/calibration.py `Skill.as_dict`)."""
    if src.policy is None:
        return "no models: auto-trading unavailable"
    if not src.auto:
        return "auto is off (press a)"
    if src.first_event_ns is None:
        return "warming up: no market event yet"
    if not (feed := src.market.feed_of(src.traded)).healthy:
        return f"{src.traded} feed {feed}: auto pauses until it is healthy"
    if not decided:
        return "warming up: no decision yet"
    if p_win is None:
        return "calibrating: too few outcomes yet for a calibrated P(win) (exploration still trades)"
    if skill is not None and not skill.get("shown", True):
        gain = skill.get("gain_nats")
        return ("no skill shown: " + (f"direction gain {gain:+.4f} nats/label, " if gain is not None else "")
                + "not yet above 0 out of sample (exploration still trades)")
    threshold = src.settings.models.confidence_threshold
    if p_win < threshold and not in_position:
        return f"P(win) {p_win:.2f} < threshold {threshold:.2f}"
    refusal = next((m for m in src.messages if "refused" in m and any(w in m for w in REFUSAL_WORDS)), None)
    if refusal is not None:
        return f"last order {refusal}"
    return None


def decision_view(src: DeskSource) -> DecisionView | None:
    if src.policy is None and not src.settings.models.enabled:
        return None
    last = getattr(src.policy, "last", None)
    in_position = src.portfolio.position(src.traded) is not None
    confidence = getattr(last, "confidence", None)
    p_win = _p(getattr(last, "p_win", None))
    return DecisionView(
        ts_ns=getattr(last, "ts_ns", None), action=str(last.action) if last is not None else None,
        confidence=confidence, threshold=src.settings.models.confidence_threshold,
        calls=model_calls(last.outputs, last.contributions, last.model_versions) if last is not None else (),
        auto=src.auto, blocker=auto_blocker(src, p_win, in_position, decided=last is not None,
                                            skill=last.outputs.get("skill") if last is not None else None),
        p_win=_p(getattr(last, "p_win", None)), policy=getattr(last, "policy", None),
        propensity=_p(getattr(last, "propensity", None)),
    )


def candles(market: MarketState, symbol: str) -> dict[str, np.ndarray]:
    """Closed bars plus the one in progress, per timeframe (copies: the rings keep moving)."""
    bars = market[symbol].bars
    out = {}
    cols = [COL["open_time_s"], COL["open"], COL["high"], COL["low"], COL["close"], COL["volume"]]
    for tf in TIMEFRAMES:
        ring = bars.rings.get(tf)
        if ring is None:
            continue
        rows = ring.last(CANDLES)[:, cols]
        live = bars.open_bar(tf)
        if live is not None:
            rows = np.vstack([rows[-(CANDLES - 1):], np.asarray(live)[cols][None, :]])
        out[tf] = rows.copy()
    return out


def risk_levels(src: DeskSource) -> dict[str, RiskLevels]:
    r = src.settings.risk
    out = {}
    for p in src.portfolio.positions.values():
        sign = p.side.sign
        out[p.id] = RiskLevels(p.entry_price * (1 - sign * r.stop_loss_pct / 100),
                               p.entry_price * (1 + sign * r.take_profit_pct / 100), r.max_hold_s)
    return out


def desk_view(src: DeskSource) -> DeskView:
    book = src.market[src.traded].book
    bids, asks = book.top(DEPTH_LEVELS) if not book.is_empty else (None, None)
    now = src.market.clock.now_ns()
    return DeskView(
        decision=decision_view(src), candles=candles(src.market, src.traded),
        bids=None if bids is None else bids.copy(), asks=None if asks is None else asks.copy(),
        risk=risk_levels(src), start_equity=src.settings.trading.quote_balance, fees_paid=src.portfolio.fees_paid,
        taker_fee=src.settings.trading.taker_fee, speed=src.pacer.speed,
        feed_ended=src.market.feed_state in (FeedState.ENDED, FeedState.STOPPED),
        session_s=(now - src.first_event_ns) / NS_PER_S if src.first_event_ns is not None else None,
        first_event_ns=src.first_event_ns, **replay_progress(src.replay_span_ns, now),
    )


def replay_progress(span_ns: tuple[int, int] | None, now_ns: int) -> dict[str, float]:
    """A replay's total span and the share of it behind event time (empty while unknown)."""
    if span_ns is None or span_ns[1] <= span_ns[0]:
        return {}
    first, last = span_ns
    return {"total_s": (last - first) / NS_PER_S, "progress": min(max((now_ns - first) / (last - first), 0.0), 1.0)}
