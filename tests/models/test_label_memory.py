"""Rehearsal for label steps: new samples come first, older ones fill the batch, drawn
reproducibly from the past only."""

from __future__ import annotations

import numpy as np

from models.label_memory import LabelMemory


def test_new_rows_first_then_remembered_ones_up_to_the_batch():
    memory = LabelMemory(capacity=5, rng=np.random.default_rng(0))
    first = np.arange(3.0)[:, None]
    assert memory.with_replay(first, batch=8)[0].tolist() == first.tolist()  # nothing remembered yet
    memory.add(first, np.array([0, 1, 2]))
    memory.add(np.array([[3.0], [4.0], [5.0]]), np.array([3, 4, 5]))
    assert len(memory) == 5  # bounded: the oldest (0) is gone
    new = (np.array([[9.0]]), np.array([9]))
    values, labels = memory.with_replay(*new, batch=4)
    assert values[0, 0] == 9.0 and len(values) == 4
    assert set(labels[1:].tolist()) <= {1, 2, 3, 4, 5} and len(set(labels[1:].tolist())) == 3
    assert [v[0] for v in values[1:]] == labels[1:].tolist(), "rows stay together across columns"


def test_the_same_seed_draws_the_same_rehearsal():
    draws = []
    for _ in range(2):
        memory = LabelMemory(capacity=100, rng=np.random.default_rng(7))
        memory.add(np.arange(50.0))
        draws.append(memory.with_replay(np.array([99.0]), batch=10)[0].tolist())
    assert draws[0] == draws[1]
