"""Per-trade statistics, greedy and explored trades reported apart.

Explored trades are deliberately off-policy (an exploration draw chose them), so they measure
the explorer, not the model; mixing them in would dilute an edge or hide a loss. Every figure
is per trade, in bp of notional after costs:

    mean net bp      = Σ net_i / n, with a day-block bootstrap interval
    hit rate         = #(net_i > 0) / n
    profit factor    = Σ_{net_i > 0} net_i / |Σ_{net_i < 0} net_i|   (None when nothing lost)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.bootstrap import DEFAULT_B, Interval, bootstrap_mean
from engine.evaluation.records import TradeArrays


@dataclass(frozen=True)
class TradeStats:
    trades: int
    mean_bp: float | None
    ci: Interval | None
    hit_rate: float | None
    profit_factor: float | None
    total_bp: float

    def as_dict(self) -> dict:
        return {"trades": self.trades, "mean_bp": self.mean_bp,
                "ci": self.ci.as_dict() if self.ci else None, "hit_rate": self.hit_rate,
                "profit_factor": self.profit_factor, "total_bp": self.total_bp}


def hit_rate(net_bp) -> float | None:
    v = np.asarray(net_bp, dtype=float)
    return float(np.mean(v > 0)) if len(v) else None


def profit_factor(net_bp) -> float | None:
    """Gross wins over gross losses; None when there are no losing trades (it would be ∞ or 0/0)."""
    v = np.asarray(net_bp, dtype=float)
    losses = -v[v < 0].sum()
    if losses <= 0:
        return None
    return float(v[v > 0].sum() / losses)


def stats_of(net_bp, days, *, B: int = DEFAULT_B, seed: int = 0) -> TradeStats:
    v = np.asarray(net_bp, dtype=float)
    if len(v) == 0:
        return TradeStats(0, None, None, None, None, 0.0)
    return TradeStats(trades=len(v), mean_bp=float(v.mean()),
                      ci=bootstrap_mean(v, days, B=B, seed=seed), hit_rate=hit_rate(v),
                      profit_factor=profit_factor(v), total_bp=float(v.sum()))


def trade_stats(trades: TradeArrays, *, B: int = DEFAULT_B, seed: int = 0) -> dict[str, TradeStats]:
    """{"all", "greedy", "explore"} -> TradeStats."""
    out = {"all": stats_of(trades.net_bp, trades.days, B=B, seed=seed)}
    for policy in ("greedy", "explore"):
        part = trades.only([policy])
        out[policy] = stats_of(part.net_bp, part.days, B=B, seed=seed)
    return out
