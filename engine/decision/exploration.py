"""Exploration on paper: ε-greedy with a decaying rate in event time.

Why ε-greedy and not Thompson sampling with bootstrapped heads: both sides of every
labelled decision are already labelled (the DQN and COB learn BUY and SELL whichever was
taken, engine/learning/horizons.py), so exploration is not what teaches the forecasts; it
is what makes trades, and so trade outcomes, reward logs and a visible learning loop, from
a fresh model's first minutes, and keeps sampling trades the greedy rule would not take.
For that a known, logged propensity per action matters more than sample efficiency, and
ε-greedy gives it exactly; bootstrapped heads would also cost K forward passes per
decision inside the 5 ms budget.

The rate is stated per hour of event time, not per decision, so it means the same on a 1 s
SIM and on 1 m bars: ε = rate x (seconds since the last decision) / 3600, with the rate
decaying from `start_per_hour` to `floor_per_hour` with a half-life in labelled decisions
(so it depends on the data seen, never on the wall clock). At most MAX_EPSILON of the
decisions explore whatever the spacing: on 5m or hourly bars the stated rate would otherwise
draw every decision, and a model that never acts greedily can never show what it learned.
An exploration draw picks
uniformly among the actions available (flat: BUY, SELL, HOLD; holding: HOLD, EXIT; a
position younger than the trade horizon: HOLD alone, so that decision is greedy). The
propensity recorded with the signal is the probability the whole rule had of taking the
action taken: (1 - ε) [action is the greedy one] + ε / |actions|. Live orders never
explore (the caller passes `enabled=False`).
"""

from __future__ import annotations

import numpy as np

from engine.core.enums import Action, Policy

MAX_EPSILON = 0.25  # the largest share of decisions one draw may explore


class Explorer:
    def __init__(self, *, start_per_hour: float, floor_per_hour: float, half_life_labels: float, seed: int) -> None:
        self.start, self.floor, self.half_life = start_per_hour, floor_per_hour, half_life_labels
        self.rng = np.random.default_rng(seed)

    def rate_per_hour(self, labels_seen: int) -> float:
        decay = 0.5 ** (labels_seen / self.half_life) if self.half_life > 0 else 0.0
        return self.floor + (self.start - self.floor) * decay

    def epsilon(self, labels_seen: int, dt_s: float) -> float:
        return min(MAX_EPSILON, max(0.0, self.rate_per_hour(labels_seen) * dt_s / 3600.0))

    def choose(self, greedy: Action, available: tuple[Action, ...], epsilon: float,
               enabled: bool = True) -> tuple[Action, Policy, float]:
        """(action, policy, propensity). One uniform draw per decision, always taken, so
        the random stream does not depend on whether exploring is on."""
        u = self.rng.random()
        if not enabled or epsilon <= 0 or len(available) == 1:  # nothing to choose between
            return greedy, Policy.GREEDY, 1.0
        share = epsilon / len(available)
        if u < epsilon:
            pick = available[int(u / epsilon * len(available)) % len(available)]
            return pick, Policy.EXPLORE, share + (1.0 - epsilon if pick is greedy else 0.0)
        return greedy, Policy.GREEDY, 1.0 - epsilon + share
