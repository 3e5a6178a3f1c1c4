"""Prioritized replay: the sum-tree samples in proportion to priority, new items enter at
max priority, beta anneals, and strata are compensated by importance weights."""

from __future__ import annotations

import numpy as np
import pytest

from models.replay_memory import PrioritizedReplay, SumTree


def _memory(n: int, dim: int = 3, **kw) -> PrioritizedReplay:
    mem = PrioritizedReplay(n, dim, rng=np.random.default_rng(0), **kw)
    for i in range(n):
        mem.add(np.full(dim, i, np.float32), i % 2, float(i), None, True)
    return mem


def test_sum_tree_find_matches_cumsum_search() -> None:
    rng = np.random.default_rng(1)
    tree = SumTree(37)  # not a power of two
    values = rng.random(37)
    tree.update(np.arange(37), values)
    assert tree.total == pytest.approx(values.sum())
    mass = rng.random(1000) * values.sum()
    expected = np.searchsorted(np.cumsum(values), mass, side="right")
    np.testing.assert_array_equal(tree.find(mass), expected)


def test_sampling_is_proportional_to_priority() -> None:
    mem = _memory(10, alpha=1.0)
    priorities = np.arange(1, 11, dtype=np.float64)  # item i has priority i+1
    mem.update_priorities(np.arange(10), priorities - mem.eps)
    counts = np.zeros(10)
    for _ in range(2000):
        counts += np.bincount(mem.sample(32).indices, minlength=10)
    freq = counts / counts.sum()
    np.testing.assert_allclose(freq, priorities / priorities.sum(), atol=0.005)


def test_new_items_enter_at_max_priority_and_alpha_applies() -> None:
    mem = _memory(4, alpha=0.5)
    mem.update_priorities(np.array([1]), np.array([9.0]))
    i = mem.add(np.zeros(3, np.float32), 0, 0.0, None, True)
    assert mem.tree.leaves(np.array([i]))[0] == pytest.approx((9.0 + mem.eps) ** 0.5)


def test_ring_buffer_wraps_at_capacity() -> None:
    mem = _memory(5)
    mem.add(np.full(3, 99, np.float32), 1, 99.0, None, True)
    assert len(mem) == 5 and mem.rewards[0] == 99.0 and mem.cursor == 1


def test_beta_anneals_to_one_and_weights_are_max_normalised() -> None:
    mem = _memory(20, beta_start=0.4, beta_steps=10)
    mem.update_priorities(np.arange(20), np.linspace(0.1, 5, 20))
    assert mem.beta == pytest.approx(0.4)
    for _ in range(10):
        batch = mem.sample(8)
        assert batch.is_weights.max() == pytest.approx(1.0)
        assert (batch.is_weights > 0).all()
    assert mem.beta == pytest.approx(1.0)


def test_strata_oversampling_is_compensated_by_importance_weights() -> None:
    """Half of every batch comes from the 'positive' stratum (10 % of the data); at beta=1
    the IS-weighted batch mean still estimates the buffer's mean reward."""
    rng = np.random.default_rng(2)
    mem = PrioritizedReplay(1000, 2, beta_start=1.0, strata_share={"positive": 0.5}, rng=rng)
    rewards = np.where(rng.random(1000) < 0.1, 1.0, -0.2)
    for r in rewards:
        mem.add(np.zeros(2, np.float32), 0, r, None, True, strata=("positive",) if r > 0 else ())
    mem.update_priorities(np.arange(1000), rng.random(1000) * 3)  # non-uniform priorities too
    num = den = raw = 0.0
    for _ in range(1500):
        b = mem.sample(64)
        num += float((b.is_weights * b.rewards).sum())
        den += float(b.is_weights.sum())
        raw += float(b.rewards.mean())
    assert num / den == pytest.approx(rewards.mean(), abs=0.01)
    assert raw / 1500 > rewards.mean() + 0.2  # unweighted, the mix is badly biased


def test_bad_strata_share_is_refused() -> None:
    with pytest.raises(ValueError):
        PrioritizedReplay(10, 2, strata_share={"winners": 0.2})
    with pytest.raises(ValueError):
        PrioritizedReplay(10, 2, strata_share={"positive": 0.6, "extrema": 0.5})
