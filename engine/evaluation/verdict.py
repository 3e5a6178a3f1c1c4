"""The verdict: one line, and the numbers that decided it.

"edge shown" needs all five, on the pooled frozen model (trained, then not updated, so its
test trades are truly out of sample):
  1. net_above_zero        net bp/trade interval lower bound > 0;
  2. net_above_random      that lower bound > the random-entry band's 97.5 % point;
  3. direction             paired (model − always-long) interval excludes 0: the side choice
                           adds something beyond riding the drift;
  4. deflated_sharpe       DSR ≥ 0.95 given N trials;
  5. folds_agree           a strict majority of folds have mean net bp > 0.
"learning shown" is claimed only on top of an edge, when (6) online minus frozen (day-paired
interval) has lower bound > 0 and (7) the slope of out-of-sample skill on log10(training
labels) has lower bound > 0 (see learning_curve).
Leakage overrides everything: if the shuffled-label control passes checks 1 and 2 (a
deliberately looser test than the full five: a leak alarm should be quick to ring), the
verdict is "no edge shown (leakage: the shuffled-label control shows an edge)". Missing
evidence never counts as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.evaluation.baselines import RandomBand
from engine.core.bootstrap import Interval

EDGE = "edge shown"
EDGE_AND_LEARNING = "edge shown, learning shown"
NO_EDGE = "no edge shown"
LEAKAGE = "no edge shown (leakage: the shuffled-label control shows an edge)"
DSR_THRESHOLD = 0.95
EDGE_CHECKS = ("net_above_zero", "net_above_random", "direction", "deflated_sharpe", "folds_agree")


@dataclass(frozen=True)
class EdgeEvidence:
    net: Interval | None  # pooled net bp/trade
    random_band: RandomBand | None
    direction: Interval | None  # paired model − always-long, bp/trade
    dsr: float | None
    fold_means: tuple[float, ...] = ()


@dataclass(frozen=True)
class LearningEvidence:
    online_minus_frozen: Interval | None
    skill_slope: Interval | None


@dataclass(frozen=True)
class Verdict:
    text: str
    checks: dict[str, bool]
    numbers: dict[str, float | int | None | str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"verdict": self.text, "checks": dict(self.checks), "numbers": dict(self.numbers)}


def edge_checks(ev: EdgeEvidence) -> dict[str, bool]:
    net, band, direction = ev.net, ev.random_band, ev.direction
    positive = sum(m > 0 for m in ev.fold_means)
    return {
        "net_above_zero": net is not None and net.low > 0,
        "net_above_random": net is not None and band is not None and net.low > band.high,
        "direction": direction is not None and direction.excludes_zero,
        "deflated_sharpe": ev.dsr is not None and ev.dsr >= DSR_THRESHOLD,
        "folds_agree": len(ev.fold_means) > 0 and positive > len(ev.fold_means) / 2,
    }


def control_shows_edge(control: EdgeEvidence) -> bool:
    c = edge_checks(control)
    return c["net_above_zero"] and c["net_above_random"]


def learning_checks(ev: LearningEvidence | None) -> dict[str, bool]:
    online = ev.online_minus_frozen if ev else None
    slope = ev.skill_slope if ev else None
    return {"online_beats_frozen": online is not None and online.low > 0,
            "skill_rises": slope is not None and slope.low > 0}


def _numbers(prefix: str, ev: EdgeEvidence) -> dict:
    out: dict = {}
    for name, iv in (("net_bp", ev.net), ("direction_bp", ev.direction)):
        out[f"{prefix}{name}"] = iv.estimate if iv else None
        out[f"{prefix}{name}_low"] = iv.low if iv else None
        out[f"{prefix}{name}_high"] = iv.high if iv else None
    out[f"{prefix}trades"] = ev.net.n if ev.net else 0
    out[f"{prefix}days"] = ev.net.days if ev.net else 0
    out[f"{prefix}random_p97_5_bp"] = ev.random_band.high if ev.random_band else None
    out[f"{prefix}dsr"] = ev.dsr
    out[f"{prefix}folds_positive"] = sum(m > 0 for m in ev.fold_means)
    out[f"{prefix}folds"] = len(ev.fold_means)
    return out


def decide(frozen: EdgeEvidence, control: EdgeEvidence | None = None,
           learning: LearningEvidence | None = None) -> Verdict:
    checks = edge_checks(frozen)
    numbers = _numbers("", frozen)
    leak = False
    if control is not None:
        leak = control_shows_edge(control)
        checks["control_clean"] = not leak
        numbers.update(_numbers("control_", control))
    numbers["control"] = "run" if control is not None else "not run"
    lc = learning_checks(learning)
    checks.update(lc)
    if learning is not None:
        for name, iv in (("online_minus_frozen_bp", learning.online_minus_frozen),
                         ("skill_slope", learning.skill_slope)):
            numbers[name] = iv.estimate if iv else None
            numbers[f"{name}_low"] = iv.low if iv else None
    if leak:
        text = LEAKAGE
    elif all(checks[name] for name in EDGE_CHECKS):
        text = EDGE_AND_LEARNING if all(lc.values()) else EDGE
    else:
        text = NO_EDGE
    return Verdict(text, checks, numbers)
