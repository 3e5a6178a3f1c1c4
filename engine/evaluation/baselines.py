"""Baselines at the model's costs, trade count and holding times, filled from bars.

Fill rule (the same for every baseline): a decision at time t enters at the open of the first
bar that opens strictly after t, and exits at the open of the first bar opening at or after
t + hold; a trade is held at least one bar (exit index ≥ entry index + 1). Net result in bp:

    net = side·(exit_open / entry_open − 1)·10⁴ − cost_bp,  cost_bp = Costs.round_trip_bp.

A trade whose fills fall past the last bar, or a rule without the history it needs, is NaN and
left out of the statistics (paired differences drop the pair).

  random entry      1,000 draws; each draws n trades: hold from the model's holds (with
                    replacement), decision time uniform over the span of the bars where the
                    trade still fits (t ∈ [first open, min(last open − hold, second-to-last
                    open))), side ±1 with probability ½. The band is the
                    2.5 / 50 / 97.5 % points of the draws' mean net bp per trade.
  always long/short side +1 / −1 at the model's decision times and holds.
  momentum          side = sign of the last 15 minutes' return known at t (the latest bar open
                    at or before t against the latest bar open at or before t − 15 min);
                    a flat return counts as long.
  mean reversion    the opposite side of momentum, trade by trade.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.units import BP, NS_PER_S
from engine.evaluation.records import Bars, Costs

RANDOM_DRAWS = 1000
MOMENTUM_LOOKBACK_NS = 15 * 60 * NS_PER_S
_CHUNK_ELEMENTS = 2_000_000  # random draws are simulated in batches of about this many trades


def fill_net_bp(bars: Bars, decision_ns, hold_ns, side, costs: Costs) -> np.ndarray:
    """Net bp of each trade under the fill rule above; NaN where it cannot be filled."""
    t = bars.open_time_ns
    decision = np.asarray(decision_ns, dtype=np.int64)
    hold = np.asarray(hold_ns, dtype=np.int64)
    side = np.asarray(side, dtype=float)
    entry = np.searchsorted(t, decision, side="right")
    exit_ = np.maximum(np.searchsorted(t, decision + hold, side="left"), entry + 1)
    ok = (exit_ < len(t)) & np.isfinite(side) & (side != 0)
    out = np.full(decision.shape, np.nan)
    e, x = entry[ok], exit_[ok]
    out[ok] = side[ok] * (bars.open[x] / bars.open[e] - 1.0) * BP - costs.round_trip_bp
    return out


@dataclass(frozen=True)
class RandomBand:
    """Distribution of the mean net bp per trade of random-entry strategies."""

    low: float  # 2.5 %
    median: float
    high: float  # 97.5 %
    draws: int
    trades_per_draw: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def random_entry_means(bars: Bars, holds_ns, n_trades: int, costs: Costs, *,
                       draws: int = RANDOM_DRAWS, seed: int = 0) -> np.ndarray:
    """Mean net bp per trade of each of `draws` random-entry strategies (see the docstring)."""
    t = bars.open_time_ns
    pool = np.asarray(holds_ns, dtype=np.int64)
    if n_trades < 1 or len(pool) == 0 or len(t) < 3:
        raise ValueError("random entry needs trades, holds and at least three bars")
    rng = np.random.default_rng(seed)
    means = np.empty(draws)
    per_chunk = max(1, _CHUNK_ELEMENTS // n_trades)
    for start in range(0, draws, per_chunk):
        rows = min(per_chunk, draws - start)
        hold = rng.choice(pool, size=(rows, n_trades))
        # it fits when entry (first open > t) is before the last bar and t + hold <= t[-1]
        latest = np.minimum(t[-1] - hold, t[-2]) - t[0]
        if np.any(latest <= 0):
            raise ValueError("a model hold is longer than the bars span")
        decision = t[0] + (rng.random((rows, n_trades)) * latest).astype(np.int64)
        side = rng.choice(np.array([-1.0, 1.0]), size=(rows, n_trades))
        net = fill_net_bp(bars, decision, hold, side, costs)
        means[start:start + rows] = np.nanmean(net, axis=1)
    return means


def random_entry_band(bars: Bars, holds_ns, n_trades: int, costs: Costs, *,
                      draws: int = RANDOM_DRAWS, seed: int = 0) -> RandomBand:
    means = random_entry_means(bars, holds_ns, n_trades, costs, draws=draws, seed=seed)
    lo, mid, hi = np.quantile(means, [0.025, 0.5, 0.975])
    return RandomBand(float(lo), float(mid), float(hi), draws, int(n_trades))


def momentum_sides(bars: Bars, decision_ns, lookback_ns: int = MOMENTUM_LOOKBACK_NS) -> np.ndarray:
    """+1 / −1 by the sign of the return over the last `lookback_ns` (flat: +1); NaN without
    a bar open at or before t − lookback."""
    t = bars.open_time_ns
    decision = np.asarray(decision_ns, dtype=np.int64)
    now = np.searchsorted(t, decision, side="right") - 1
    then = np.searchsorted(t, decision - lookback_ns, side="right") - 1
    ok = (then >= 0) & (now >= 0)
    out = np.full(decision.shape, np.nan)
    ret = bars.open[now[ok]] / bars.open[then[ok]] - 1.0
    out[ok] = np.where(ret >= 0, 1.0, -1.0)
    return out


def rule_baselines(bars: Bars, entry_ns, exit_ns, costs: Costs, *,
                   lookback_ns: int = MOMENTUM_LOOKBACK_NS) -> dict[str, np.ndarray]:
    """Net bp per model trade of each rule at the model's own decision times and holds."""
    entry = np.asarray(entry_ns, dtype=np.int64)
    hold = np.asarray(exit_ns, dtype=np.int64) - entry
    mom = momentum_sides(bars, entry, lookback_ns)
    sides = {"always_long": np.ones(len(entry)), "always_short": -np.ones(len(entry)),
             "momentum": mom, "mean_reversion": -mom}
    return {name: fill_net_bp(bars, entry, hold, s, costs) for name, s in sides.items()}
