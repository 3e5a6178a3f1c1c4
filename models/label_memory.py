"""Rehearsal for the supervised label steps: recent labelled samples replayed beside new ones.

Why: in lockstep a label matures every `label_every_s` of event time, one at a time, so a
label step used to be a batch of one. Adam on batches of one with a 1.2M-parameter CNN
chases each sample: on the lead-lag SIM its out-of-sample rank IC swung between +0.5 and
-0.35 from one 30-minute window to the next while the DQN, which replays a memory, held
between 0 and +0.4. Each step now trains on the new samples plus older ones drawn from a
bounded memory (uniformly, from a seeded generator, so a run stays a function of the data,
the seed and the config), up to `batch` samples.

Only samples the models have already been scored on go in (the new ones are added after
their step), and the memory holds samples of the past only, so nothing leaks forward.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class LabelMemory:
    """A FIFO of fixed-shape sample tuples; `sample(k)` draws k of them (fewer if it holds fewer)."""

    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self._items: deque[tuple[np.ndarray, ...]] = deque(maxlen=capacity)
        self._rng = rng

    def __len__(self) -> int:
        return len(self._items)

    def add(self, *columns: np.ndarray) -> None:
        """Add rows: each column holds one field of every new sample (first axis = samples)."""
        for row in zip(*columns):
            self._items.append(tuple(np.array(x, copy=True) for x in row))

    def with_replay(self, *columns: np.ndarray, batch: int) -> tuple[np.ndarray, ...]:
        """The new rows followed by up to `batch - len(new)` remembered ones, column-wise."""
        k = min(max(batch - len(columns[0]), 0), len(self._items))
        if k == 0:
            return columns
        picks = self._rng.choice(len(self._items), size=k, replace=False)
        old = [self._items[int(i)] for i in picks]
        return tuple(np.concatenate([col, np.stack([o[j] for o in old])]) for j, col in enumerate(columns))
