"""EnhancedCNN: a 1-D convolutional network over time on the market tensor (56 channels x
300 steps: every time block's features plus one validity mask per block, engine/features/schema.py).

Architecture: a strided stem (300 -> 75 steps), three stages of one pre-activation residual
block each, with strided downsampling between them (receptive field ~144 steps), then
mean-, max- and last-step pooling over time -> a 512-float hidden vector (stored in the
signal's state; the DQN does not read it) -> two heads. ~1.24M parameters, ~20M multiply-adds per sample.

Why this shape (measured on the 2-core EPYC, one thread, batch 1): one decision must run
this, the DQN and the COB model inside a 5 ms p99.
  - Layer count sets batch-1 latency more than FLOPs do: two blocks per stage at widths
    (96, 160, 224) took 2.6-2.9 ms, one block per stage at (64, 128, 288) 1.6-2.0 ms. The
    parameters sit where batch 1 is cheap: the widest stage, at 19 steps, and the hidden
    layer.
  - Activations are time-major, (batch, time, channels), and each convolution is written
    as its im2col form (`TemporalConv`: the k-step windows, unfolded, times a (C*k, C_out)
    matrix). At batch 1 nn.Conv1d runs this torch build's reference im2col kernel with the
    small side of the product in the slow position: 1.4-2.1 ms against 1.0-1.45 ms for the
    same network time-major (training at b32 is ~15 % slower; the trainer does b1 steps).
  - LayerNorm over channels, not BatchNorm: batch-size independent, so batch-1 inference
    and batch-256 training behave the same. ReLU, not GELU (erf costs ~25 us per call).
    No dilation: striding buys the receptive field more cheaply.

The 16 predictions (`forward`'s second output), for the schema's horizons H = 1m, 5m, 15m, 60m:
  [3h + c] for h in 0..3, c in 0..2: P(class c at horizon h), a softmax triple per horizon,
      class 0 = down, 1 = flat ("no trade": the move is smaller than the round-trip cost),
      2 = up;
  [12 + h]: expected realised return at horizon h, in the units of the labels' "return"
      (the engine's convention; the model only regresses what it is given).

Labels per sample are a mapping horizon -> {"class": 0|1|2, "return": float} or None for a
horizon whose outcome is not known (masked out of the loss).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.features.schema import CNN_HIDDEN, CNN_PREDICTIONS, SCHEMA
from engine.features.schema import HORIZONS as _SCHEMA_HORIZONS
from models.learner import NetLearner
from models.normalizer import RunningNorm

HORIZONS: tuple[str, ...] = tuple(name for name, _ in _SCHEMA_HORIZONS)  # in the heads' order
HORIZON_SECONDS: tuple[int, ...] = tuple(seconds for _, seconds in _SCHEMA_HORIZONS)
N_CLASSES = 3
DOWN, FLAT, UP = 0, 1, 2


class TemporalConv(nn.Module):
    """A 1-D convolution over time on time-major input (B, T, C_in) -> (B, T', C_out),
    computed as its im2col product: each output step is a Linear over the k-step window of
    all input channels (equal to F.conv1d with the weight reshaped; tested). Why not
    nn.Conv1d: batch-1 latency, see the module docstring."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int | None = None) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.padding = kernel // 2 if padding is None else padding
        self.proj = nn.Linear(c_in * kernel, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, self.padding, self.padding))
        windows = x.unfold(1, self.kernel, self.stride)  # (B, T', C_in, k), a view
        return self.proj(windows.flatten(2))


class ResidualBlock(nn.Module):
    """Pre-activation residual block: two same-length convolutions, LayerNorm over channels."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(channels), nn.ReLU(), TemporalConv(channels, channels, kernel),
            nn.LayerNorm(channels), nn.ReLU(), TemporalConv(channels, channels, kernel),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class EnhancedCNN(nn.Module):
    def __init__(self, channels: int = SCHEMA.market_channels, widths: tuple[int, int, int] = (64, 128, 288)) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.norm = RunningNorm(channels)  # causal per-channel standardisation (models/normalizer.py)
        self.features = nn.Sequential(
            TemporalConv(channels, w1, 8, stride=4, padding=2),  # 300 -> 75 steps
            ResidualBlock(w1, 3),
            TemporalConv(w1, w2, 3, stride=2, padding=1),  # -> 38
            ResidualBlock(w2, 3),
            TemporalConv(w2, w3, 3, stride=2, padding=1),  # -> 19
            ResidualBlock(w3, 3),
            nn.LayerNorm(w3), nn.ReLU(),
        )
        self.hidden = nn.Sequential(nn.Linear(3 * w3, CNN_HIDDEN), nn.ReLU())
        self.class_head = nn.Linear(CNN_HIDDEN, len(HORIZONS) * N_CLASSES)
        self.return_head = nn.Linear(CNN_HIDDEN, len(HORIZONS))

    def heads(self, market: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """market (B, channels, steps) as the state builder lays it out -> (hidden (B, 512),
        class logits (B, 4, 3), expected returns (B, 4))."""
        z = self.features(self.norm(market).transpose(1, 2))  # time-major from here on
        pooled = torch.cat([z.mean(dim=1), z.amax(dim=1), z[:, -1]], dim=1)
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


class CNNLearner(NetLearner):
    """The CNN with its optimizer: supervised steps on multi-horizon outcome labels."""

    def __init__(self, channels: int = SCHEMA.market_channels, *, device: torch.device | str = "cpu", lr: float = 3e-4) -> None:
        super().__init__(EnhancedCNN(channels), lr=lr, device=device)

    def train_step(self, market: np.ndarray, classes: np.ndarray, returns: np.ndarray, weights: np.ndarray) -> float:
        """One step on a batch: market (B, C, T), classes (B, 4), returns (B, 4), weights (B,).
        Returns the loss, or NaN when the step was skipped as non-finite."""
        m, r, w = self.tensor(market), self.tensor(returns), self.tensor(weights)
        c = self.tensor(classes, torch.int64)
        return self.step(lambda: cnn_loss(self.net, m, c, r, w), m, w)
