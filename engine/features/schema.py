"""The feature schema: every block of the model state, its shape, order and version.

This is the contract between the state builder (engine/features/builder.py) and the models:
models size their inputs from it and refuse checkpoints saved under another schema.
The market and model blocks sum to 15,814 floats: ETH ticks 3,000 + ETH 1s/1m/1h/1d bars
9,600 + BTC 1m bars 2,400 + CNN hidden 512 + CNN predictions 16 + pivots 250 + regime 20 +
trailing returns 16. The 8-float position/account block comes last, for 15,822 in all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from math import prod


@dataclass(frozen=True, slots=True)
class Block:
    name: str
    shape: tuple[int, ...]
    doc: str

    @property
    def size(self) -> int:
        return prod(self.shape)


TICK_FEATURES = 10
BAR_FEATURES = 8
WINDOW = 300
PIVOT_LEVELS = 5
PIVOT_FEATURES = 50
REGIME_FEATURES = 20
CNN_HIDDEN = 512
# The CNN's prediction horizons, in the order of its heads: per horizon three class
# probabilities (down, flat, up) and one expected return, so CNN_PREDICTIONS = 4 x (3 + 1).
# The horizon labeller matures the first three; the 60m head is trained only by trade outcomes.
HORIZONS: tuple[tuple[str, int], ...] = (("1m", 60), ("5m", 300), ("15m", 900), ("60m", 3600))
LABELLED_HORIZONS: tuple[tuple[str, int], ...] = HORIZONS[:3]
CNN_PREDICTIONS = len(HORIZONS) * 4
POSITION_FEATURES = 8
# Trailing returns: each symbol's return from LOOKBACKS_S seconds ago to now, in bp. Why a
# block of its own: a bar block shows a move on the bar grid (BTC's 1m bar in progress is
# 0 to 59 s old), while a move that will echo, or persist, is a move over the last N
# seconds whenever the decision is taken. The first four come from 1s bars, the rest from
# 1m bars (which kline-only data also has).
LOOKBACKS_S: tuple[int, ...] = (5, 15, 30, 60, 120, 300, 900, 3600)
COB_FEATURES = 48  # the COB model's own input (listed in engine/features/cob.py); not part of the state vector

# Time-series blocks: these also form the CNN's market tensor (features as channels x time).
TIME_BLOCKS: tuple[Block, ...] = (
    Block("eth_ticks_1s", (WINDOW, TICK_FEATURES), "ETH trades aggregated into 300 one-second slots"),
    Block("eth_ohlcv_1s", (WINDOW, BAR_FEATURES), "ETH 1s bars"),
    Block("eth_ohlcv_1m", (WINDOW, BAR_FEATURES), "ETH 1m bars"),
    Block("eth_ohlcv_1h", (WINDOW, BAR_FEATURES), "ETH 1h bars"),
    Block("eth_ohlcv_1d", (WINDOW, BAR_FEATURES), "ETH 1d bars"),
    Block("btc_ohlcv_1m", (WINDOW, BAR_FEATURES), "BTC reference, 1m bars"),
)

BLOCKS: tuple[Block, ...] = TIME_BLOCKS + (
    Block("cnn_hidden", (CNN_HIDDEN,), "EnhancedCNN hidden features (masked until the CNN runs)"),
    Block("cnn_predictions", (CNN_PREDICTIONS,), "EnhancedCNN predictions (masked until the CNN runs)"),
    Block("williams_pivots", (PIVOT_LEVELS, PIVOT_FEATURES), "Williams market structure, 5 levels"),
    Block("market_regime", (REGIME_FEATURES,), "volatility, trend and liquidity regime"),
    Block("trailing_returns", (2, len(LOOKBACKS_S)), "ETH and BTC returns over the last 5 s .. 1 h, bp"),
    Block("position", (POSITION_FEATURES,), "position and account state"),
)


@dataclass(frozen=True)
class FeatureSchema:
    version: int = 1
    blocks: tuple[Block, ...] = BLOCKS

    @property
    def dim(self) -> int:
        return sum(b.size for b in self.blocks)

    @property
    def market_dim(self) -> int:
        """The market and model blocks only: everything but the position block."""
        return sum(b.size for b in self.blocks if b.name != "position")

    def offsets(self) -> dict[str, tuple[int, int]]:
        """Block name -> (start, end) in the flat state vector."""
        out, pos = {}, 0
        for b in self.blocks:
            out[b.name] = (pos, pos + b.size)
            pos += b.size
        return out

    def block(self, name: str) -> Block:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)

    @property
    def market_channels(self) -> int:
        """Channels of the CNN's market tensor: every time block's features, plus one
        validity-mask channel per time block."""
        return sum(b.shape[1] for b in TIME_BLOCKS) + len(TIME_BLOCKS)

    @property
    def market_steps(self) -> int:
        return WINDOW

    @property
    def fingerprint(self) -> str:
        """Stable id of the layout, stored in checkpoints and compared on load."""
        text = f"v{self.version};" + ";".join(f"{b.name}:{'x'.join(map(str, b.shape))}" for b in self.blocks)
        text += f";cob:{COB_FEATURES}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


SCHEMA = FeatureSchema()
