"""Causal per-feature standardisation of a network's input, saved with its weights.

Why: the state mixes units (bar returns in percent, z-scored price levels, pivot distances
that reach 27, one-hot flags); 75 % of a bars-only state is exactly zero because a block is
masked. Unstandardised, a few large features dominate the first layer's gradient and the
informative small ones (a reference symbol's last bar return) are learned slowly, if at all.

What: running mean and variance per feature (Welford, in float64), updated only from the
inputs the network is trained on — states of the past, so the scaling never sees the future
— and applied as clamp((x - mean) / sd, ±CLIP). An input that is exactly 0 is a masked or
absent value and stays exactly 0, and is left out of the statistics, so a masked block
reads the same before and after standardisation. The statistics are buffers of the module:
they are saved in the checkpoint with the weights and copied into the inference copies
with them, so a restart predicts with the scaling it trained with.
"""

from __future__ import annotations

import torch
from torch import nn

CLIP = 5.0       # standardised inputs beyond ±5 sd are clipped: one outlier must not dominate
MIN_SD = 1e-6    # a constant feature divides by this, not by zero


class RunningNorm(nn.Module):
    """Standardise features along `dim` of the input (dim=1: (B, F) vectors or the channels
    of (B, C, T) tensors)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.register_buffer("count", torch.zeros(features, dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(features, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(features, dtype=torch.float64))
        self.register_buffer("scale_mean", torch.zeros(features))
        self.register_buffer("scale_inv_sd", torch.ones(features))

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        """Fold a batch of training inputs into the statistics (Chan et al.'s parallel
        update over the non-zero entries of each feature)."""
        x = x.detach().to(torch.float64)
        if x.dim() == 3:  # (B, C, T): every time step is an observation of its channel
            x = x.transpose(1, 2).reshape(-1, x.shape[1])
        seen = x != 0
        n_b = seen.sum(0).to(torch.float64)
        has = n_b > 0
        if not bool(has.any()):
            return
        mean_b = torch.where(has, (x * seen).sum(0) / n_b.clamp_min(1), torch.zeros_like(n_b))
        m2_b = (((x - mean_b) * seen) ** 2).sum(0)
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean.copy_(torch.where(has, self.mean + delta * n_b / n.clamp_min(1), self.mean))
        self.m2.copy_(torch.where(has, self.m2 + m2_b + delta ** 2 * n_a * n_b / n.clamp_min(1), self.m2))
        self.count.copy_(n)
        var = self.m2 / (self.count - 1).clamp_min(1)
        # A feature with one non-zero value (a validity mask, a flag) carries its information
        # in being non-zero: it passes through unscaled rather than standardised to nothing.
        scaled = (self.count > 1) & (var > MIN_SD ** 2)
        self.scale_mean.copy_(torch.where(scaled, self.mean, torch.zeros_like(self.mean)).to(self.scale_mean.dtype))
        inv_sd = torch.where(scaled, 1.0 / var.sqrt().clamp_min(MIN_SD), torch.ones_like(var))
        self.scale_inv_sd.copy_(inv_sd.to(self.scale_inv_sd.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        z = ((x - self.scale_mean.view(shape)) * self.scale_inv_sd.view(shape)).clamp(-CLIP, CLIP)
        return torch.where(x == 0, torch.zeros_like(z), z)
