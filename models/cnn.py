"""EnhancedCNN: a 1-D convolutional network over time on the market tensor (56 channels x
300 steps: every time block's features plus one validity mask per block, engine/schema.py).

Architecture: a strided stem (300 -> 75 steps), three stages of pre-activation residual
blocks with strided downsampling between them (receptive field ~190 steps), then mean-,
max- and last-step pooling over time -> a 512-float hidden vector (which also enters the
DQN's state) -> two heads. ~1.7M parameters, ~50M multiply-adds per sample.

Why no dilation: this torch build runs dilated and small batch-1 convolutions on its slow
reference kernels (slow_conv_dilated2d); dilated blocks made batch-1 inference ~7 ms,
beyond the 5 ms budget for all three models. Striding buys the same receptive field.

The 16 predictions (`forward`'s second output), for horizons H = 1m, 5m, 15m, 60m:
  [3h + c] for h in 0..3, c in 0..2: P(class c at horizon h), a softmax triple per horizon,
      class 0 = down, 1 = flat ("no trade": the move is smaller than the round-trip cost),
      2 = up;
  [12 + h]: expected realised return at horizon h, in the units of the labels' "return"
      (the engine's convention; the model only regresses what it is given).

Labels per sample are a mapping horizon -> {"class": 0|1|2, "return": float} or None for a
horizon whose outcome is not known (masked out of the loss).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.schema import CNN_HIDDEN, CNN_PREDICTIONS, SCHEMA
from models.optim import all_finite, guarded_step, make_adam

HORIZONS = ("1m", "5m", "15m", "60m")
HORIZON_SECONDS = (60, 300, 900, 3600)
N_CLASSES = 3
DOWN, FLAT, UP = 0, 1, 2


class ResidualBlock(nn.Module):
    """Pre-activation residual block: two same-length convolutions, GroupNorm (batch-size
    independent, so batch-1 inference and batch-256 training behave the same)."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.net = nn.Sequential(
            nn.GroupNorm(8, channels), nn.GELU(), nn.Conv1d(channels, channels, kernel, padding=pad),
            nn.GroupNorm(8, channels), nn.GELU(), nn.Conv1d(channels, channels, kernel, padding=pad),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class EnhancedCNN(nn.Module):
    def __init__(self, channels: int = SCHEMA.market_channels, widths: tuple[int, int, int] = (96, 160, 224)) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.features = nn.Sequential(
            nn.Conv1d(channels, w1, 8, stride=4, padding=2),  # 300 -> 75 steps
            ResidualBlock(w1, 3), ResidualBlock(w1, 3),
            nn.Conv1d(w1, w2, 3, stride=2, padding=1),  # -> 38
            ResidualBlock(w2, 3), ResidualBlock(w2, 3),
            nn.Conv1d(w2, w3, 3, stride=2, padding=1),  # -> 19
            ResidualBlock(w3, 3),
            nn.GroupNorm(8, w3), nn.GELU(),
        )
        self.hidden = nn.Sequential(nn.Linear(3 * w3, CNN_HIDDEN), nn.GELU())
        self.class_head = nn.Linear(CNN_HIDDEN, len(HORIZONS) * N_CLASSES)
        self.return_head = nn.Linear(CNN_HIDDEN, len(HORIZONS))

    def heads(self, market: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(hidden (B, 512), class logits (B, 4, 3), expected returns (B, 4))."""
        z = self.features(market)
        pooled = torch.cat([z.mean(dim=2), z.amax(dim=2), z[:, :, -1]], dim=1)
        h = self.hidden(pooled)
        return h, self.class_head(h).view(-1, len(HORIZONS), N_CLASSES), self.return_head(h)

    def forward(self, market: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(hidden (B, 512), predictions (B, 16)) as documented in the module docstring."""
        h, logits, returns = self.heads(market)
        probs = torch.softmax(logits.float(), dim=2).flatten(1)
        return h, torch.cat([probs, returns.float()], dim=1)


assert len(HORIZONS) * (N_CLASSES + 1) == CNN_PREDICTIONS


def labels_to_arrays(labels: Mapping[str, Mapping | None]) -> tuple[np.ndarray, np.ndarray]:
    """Per-horizon labels -> (classes (4,) int64 with -1 = missing, returns (4,) float32
    with NaN = missing)."""
    classes = np.full(len(HORIZONS), -1, dtype=np.int64)
    returns = np.full(len(HORIZONS), np.nan, dtype=np.float32)
    for h, name in enumerate(HORIZONS):
        label = labels.get(name)
        if not label:
            continue
        if label.get("class") is not None:
            c = int(label["class"])
            if c not in (DOWN, FLAT, UP):
                raise ValueError(f"horizon {name}: class must be 0, 1 or 2, got {c}")
            classes[h] = c
        if label.get("return") is not None:
            returns[h] = float(label["return"])
    return classes, returns


def cnn_loss(
    net: EnhancedCNN, market: torch.Tensor, classes: torch.Tensor, returns: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Mean over labelled samples of w * (mean CE over known horizons + mean Huber over
    known returns). Not normalised by sum(w): the contribution weight must still scale a
    single-trade step."""
    _, logits, pred_ret = net.heads(market)
    cls_known = classes >= 0
    ce = F.cross_entropy(logits.float().flatten(0, 1), classes.clamp_min(0).flatten(), reduction="none")
    ce = (ce.view_as(classes) * cls_known).sum(1) / cls_known.sum(1).clamp_min(1)
    ret_known = torch.isfinite(returns)
    hub = F.smooth_l1_loss(pred_ret.float(), torch.nan_to_num(returns), reduction="none")
    hub = (hub * ret_known).sum(1) / ret_known.sum(1).clamp_min(1)
    labelled = cls_known.any(1) | ret_known.any(1)
    return (weights * labelled * (ce + hub)).sum() / labelled.sum().clamp_min(1)


class CNNLearner:
    """The CNN with its optimizer: supervised steps on multi-horizon outcome labels."""

    def __init__(self, channels: int = SCHEMA.market_channels, *, device: torch.device | str = "cpu", lr: float = 3e-4) -> None:
        self.device = torch.device(device)
        self.net = EnhancedCNN(channels).to(self.device)
        self.optimizer = make_adam(self.net.parameters(), lr, self.device)
        self.updates = 0

    def train_step(self, market: np.ndarray, classes: np.ndarray, returns: np.ndarray, weights: np.ndarray) -> float:
        """One step on a batch: market (B, C, T), classes (B, 4), returns (B, 4), weights (B,).
        Returns the loss, or NaN when the step was skipped as non-finite."""
        m = torch.as_tensor(market, dtype=torch.float32, device=self.device)
        c = torch.as_tensor(classes, dtype=torch.int64, device=self.device)
        r = torch.as_tensor(returns, dtype=torch.float32, device=self.device)
        w = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
        if not all_finite(m, w):
            return math.nan
        loss = guarded_step(self.net, self.optimizer, lambda: cnn_loss(self.net, m, c, r, w))
        if math.isfinite(loss):
            self.updates += 1
        return loss
