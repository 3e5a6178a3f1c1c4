"""The signal: what the decision step concluded, and everything needed to learn from it later.

A `Signal` is made for every decision (kind AUTO) and for every manual entry (kind MANUAL:
the models' outputs on the state the trader acted on, so the models learn from manual trades
too). The one that opens a position is linked to it; when the position closes, its state and
contributions decide which models train and on what. The ledger stores it by attribute
(`storage/ledger.py` reads the fields, not dict keys), so a renamed field fails loudly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.core.enums import Action, Policy, Side, Source
from engine.core.units import NS_PER_MS
from engine.decision.ports import StateArrays


@dataclass(slots=True)
class Signal:
    id: str
    ts_ns: int
    symbol: str
    kind: Source                 # AUTO: a decision; MANUAL: the models' view at a manual entry
    action: Side                 # the side the decision concerns: opened, closed (EXIT: the closing side) or preferred
    venue: str
    confidence: float | None = None          # the ensemble's raw score for `action`; None: no model ran
    model_action: Side | None = None          # the ensemble's own choice (differs when forced)
    contributions: dict[str, float] = field(default_factory=dict)  # model -> share, sums to 1
    outputs: dict[str, Any] = field(default_factory=dict)          # per-model outputs and "context"
    model_versions: dict[str, int] = field(default_factory=dict)
    state_ref: str | None = None              # where the state can be had again
    state: StateArrays | None = None          # kept in memory (and saved) for opening signals
    schema: str | None = None                 # feature-schema fingerprint the state was built under
    decision: Action | None = None            # BUY / SELL / HOLD / EXIT as decided (None: no model ran)
    policy: Policy = Policy.GREEDY            # greedy, or an exploration draw
    propensity: float | None = None           # probability the rule had of taking `decision`
    p_win: float | None = None                # calibrated P(the `action` side's trade nets > 0); None: calibrating

    @property
    def context(self) -> dict[str, Any]:
        """What was known at decision time besides the state: balance, volatility, range."""
        return self.outputs.get("context") or {}

    @classmethod
    def from_row(cls, row: dict[str, Any], state: StateArrays | None = None,
                 schema: str | None = None) -> "Signal":
        """A signal as the ledger returns it (`Ledger.get_signal`), with its state if loaded."""
        return cls(
            id=row["id"], ts_ns=row["ts_ns"], symbol=row["symbol"], kind=Source(row["kind"]),
            action=Side(row["action"]), venue=row["venue"], confidence=row.get("confidence"),
            contributions=dict(row.get("contributions") or {}), outputs=dict(row.get("outputs") or {}),
            model_versions=dict(row.get("model_versions") or {}), state_ref=row.get("state_ref"),
            state=state, schema=schema, decision=Action(row["decision"]) if row.get("decision") else None,
            policy=Policy(row.get("policy") or Policy.GREEDY), propensity=row.get("propensity"),
            p_win=row.get("p_win"),
        )


def new_signal_id(prefix: str, ts_ns: int) -> str:
    """Unique and sortable by time: S (decision) or M (manual) + event ms + random suffix."""
    return f"{prefix}{ts_ns // NS_PER_MS}-{uuid.uuid4().hex[:8]}"


def manual_signal_without_models(symbol: str, side: Side, ts_ns: int, venue: str, reason: str,
                                 balance: float, sigma_1m_bp: float | None) -> Signal:
    """A manual trade's signal when no model can run: it records why, and trains nothing."""
    return Signal(
        id=new_signal_id("M", ts_ns), ts_ns=ts_ns, symbol=symbol, kind=Source.MANUAL, action=side, venue=venue,
        outputs={"models": reason, "context": {"balance": balance, "sigma_1m_bp": sigma_1m_bp}},
    )
