"""What every trained network has in common: the network on its device, its Adam optimizer,
and a count of the updates actually applied.

The count is of applied steps only: a step skipped as non-finite (bad input, a NaN loss or
gradient, see models/optim.py) leaves the weights untouched, so it must not count as an
update; the DQN syncs its target network on this count.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from models.optim import all_finite, guarded_step, make_adam


class NetLearner:
    """A network and its optimizer on one device; subclasses supply the loss."""

    def __init__(self, net: nn.Module, *, lr: float, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.net = net.to(self.device)
        # A network may train its parts at different rates (models/dqn.py `parameter_groups`).
        groups = net.parameter_groups(lr) if hasattr(net, "parameter_groups") else self.net.parameters()
        self.optimizer = make_adam(groups, lr, self.device)
        self.updates = 0

    def tensor(self, array: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(array, dtype=dtype, device=self.device)

    def step(self, compute_loss: Callable[[], torch.Tensor], *inputs: torch.Tensor) -> float:
        """One guarded step, counted when applied. Returns the loss, or NaN when any of
        `inputs` or the loss or gradients were not finite and the step was skipped."""
        if not all_finite(*inputs):
            return math.nan
        loss = guarded_step(self.net, self.optimizer, compute_loss)
        if math.isfinite(loss):
            self.updates += 1
        return loss
