"""Prioritized experience replay (Schaul et al. 2016, proportional variant) with optional
strata, all in fixed-capacity numpy arrays.

Why numpy and a vectorised sum-tree: a 15,822-float state is 63 KB; Python lists of tensors
would fragment memory and make batch gathers slow. The tree updates and descends one level
at a time for the whole batch at once (log2(capacity) numpy ops, no per-item Python loop).

Strata (positive experiences, entries near a range extreme, clear moves): part of each
batch is drawn uniformly from a stratum instead of by priority, so these rare, informative
trades are seen more often. Oversampling a stratum biases every estimate, so each sample's
importance weight uses its exact probability under the whole mixture:
    q(i) = (1 - sum_j f_j) * P_per(i) + sum_j f_j * [i in S_j] / |S_j|
and w_i = (N * q(i))^-beta / max(w). At beta = 1 the weighted batch is an unbiased estimate
of the plain buffer mean, whatever the strata mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRATA = ("positive", "extrema", "clear_move")


class SumTree:
    """Binary sum-tree over `capacity` leaves (rounded up to a power of two); node 1 is the
    root, node k has children 2k and 2k+1, leaves live at [size, 2*size)."""

    def __init__(self, capacity: int) -> None:
        self.size = 1 << max(0, int(capacity - 1).bit_length())
        self.depth = self.size.bit_length() - 1
        self.nodes = np.zeros(2 * self.size, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def leaves(self, idx: np.ndarray) -> np.ndarray:
        return self.nodes[self.size + np.asarray(idx)]

    def update(self, idx: np.ndarray, values: np.ndarray) -> None:
        """Set leaf values, then recompute the affected parents level by level."""
        nodes = self.size + np.asarray(idx, dtype=np.int64)
        self.nodes[nodes] = values
        for _ in range(self.depth):
            nodes = np.unique(nodes >> 1)
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]

    def find(self, mass: np.ndarray) -> np.ndarray:
        """Leaf index whose cumulative-sum interval holds each value in `mass`."""
        mass = np.array(mass, dtype=np.float64)
        nodes = np.ones(mass.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * nodes
            left_sum = self.nodes[left]
            go_right = mass >= left_sum
            mass = np.where(go_right, mass - left_sum, mass)
            nodes = np.where(go_right, left + 1, left)
        return nodes - self.size


@dataclass(frozen=True, slots=True)
class Batch:
    indices: np.ndarray  # (B,) int64 slots, for update_priorities
    states: np.ndarray  # (B, dim) float32
    actions: np.ndarray  # (B,) int64
    rewards: np.ndarray  # (B,) float32
    next_states: np.ndarray  # (B, dim) float32 (stale where done: never read there)
    dones: np.ndarray  # (B,) float32
    weights: np.ndarray  # (B,) float32 contribution (loss) weights stored with each item
    is_weights: np.ndarray  # (B,) float32 importance-sampling weights, max-normalised


class PrioritizedReplay:
    """Fixed-capacity ring buffer; new items enter at the running max priority."""

    def __init__(
        self,
        capacity: int,
        state_dim: int,
        *,
        alpha: float = 0.6,
        beta_start: float = 0.4,
        beta_steps: int = 10_000,
        eps: float = 1e-6,
        strata_share: dict[str, float] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        shares = dict(strata_share or {})
        unknown = set(shares) - set(STRATA)
        if unknown or sum(shares.values()) >= 1.0 or any(f < 0 for f in shares.values()):
            raise ValueError(f"bad strata_share {shares}: names from {STRATA}, non-negative, sum < 1")
        self.capacity, self.state_dim = int(capacity), int(state_dim)
        self.alpha, self.beta_start, self.beta_steps, self.eps = alpha, beta_start, beta_steps, eps
        self.strata_share = shares
        self.rng = rng or np.random.default_rng()
        # np.zeros is lazily committed by the OS: untouched slots cost no resident memory.
        self.states = np.zeros((self.capacity, self.state_dim), dtype=np.float32)
        self.next_states = np.zeros((self.capacity, self.state_dim), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.dones = np.zeros(self.capacity, dtype=np.float32)
        self.weights = np.zeros(self.capacity, dtype=np.float32)
        self.strata = {name: np.zeros(self.capacity, dtype=bool) for name in STRATA}
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0
        self.cursor = 0
        self.count = 0
        self.samples_drawn = 0

    def __len__(self) -> int:
        return self.count

    @property
    def beta(self) -> float:
        """Annealed linearly from beta_start to 1 over beta_steps sample() calls."""
        frac = min(1.0, self.samples_drawn / max(1, self.beta_steps))
        return self.beta_start + (1.0 - self.beta_start) * frac

    def add(
        self,
        state: np.ndarray,
        action: int,
        reward: float,
        next_state: np.ndarray | None,
        done: bool,
        weight: float = 1.0,
        strata: tuple[str, ...] = (),
    ) -> int:
        i = self.cursor
        self.states[i] = state
        if next_state is not None:  # terminal items never read it; not writing keeps pages uncommitted
            self.next_states[i] = next_state
        self.actions[i], self.rewards[i] = action, reward
        self.dones[i], self.weights[i] = float(done), weight
        for name, mask in self.strata.items():
            mask[i] = name in strata
        self.tree.update(np.array([i]), np.array([self.max_priority**self.alpha]))
        self.cursor = (i + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)
        return i

    def sample(self, batch_size: int) -> Batch:
        if self.count == 0:
            raise ValueError("sample() on an empty replay memory")
        members = {n: np.flatnonzero(self.strata[n][: self.count]) for n in self.strata_share}
        counts = {n: int(f * batch_size) for n, f in self.strata_share.items() if members[n].size}
        n_per = batch_size - sum(counts.values())
        parts = [self._sample_prioritized(n_per)]
        parts += [self.rng.choice(members[n], size=k) for n, k in counts.items()]
        idx = np.concatenate(parts).astype(np.int64)

        # The mixture probability with the batch's actual shares (empty strata give theirs to PER).
        q = (n_per / batch_size) * self.tree.leaves(idx) / self.tree.total
        for n, k in counts.items():
            q += (k / batch_size) * self.strata[n][idx] / members[n].size
        w = (self.count * q) ** (-self.beta)
        w /= w.max()
        self.samples_drawn += 1
        return Batch(
            indices=idx,
            states=self.states[idx],
            actions=self.actions[idx],
            rewards=self.rewards[idx],
            next_states=self.next_states[idx],
            dones=self.dones[idx],
            weights=self.weights[idx],
            is_weights=w.astype(np.float32),
        )

    def _sample_prioritized(self, n: int) -> np.ndarray:
        """Stratified proportional sampling: one uniform draw in each of n equal mass segments."""
        if n <= 0:
            return np.empty(0, dtype=np.int64)
        seg = self.tree.total / n
        mass = (np.arange(n) + self.rng.random(n)) * seg
        idx = self.tree.find(mass)
        # Float rounding at a segment edge can land on an empty slot past the filled region.
        return np.minimum(idx, self.count - 1)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        priorities = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.eps
        priorities = np.where(np.isfinite(priorities), priorities, self.max_priority)
        self.max_priority = max(self.max_priority, float(priorities.max()))
        idx, keep = np.unique(np.asarray(indices), return_index=True)
        self.tree.update(idx, priorities[keep] ** self.alpha)
