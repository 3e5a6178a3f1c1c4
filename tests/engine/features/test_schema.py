"""The state layout is a contract with the models: sizes, order and fingerprint are pinned."""

import numpy as np

from engine.features.schema import COB_FEATURES, SCHEMA, TIME_BLOCKS
from engine.features.builder import StateBuilder

EXPECTED = [
    ("eth_ticks_1s", (300, 10)),
    ("eth_ohlcv_1s", (300, 8)),
    ("eth_ohlcv_1m", (300, 8)),
    ("eth_ohlcv_1h", (300, 8)),
    ("eth_ohlcv_1d", (300, 8)),
    ("btc_ohlcv_1m", (300, 8)),
    ("cnn_hidden", (512,)),
    ("cnn_predictions", (16,)),
    ("williams_pivots", (5, 50)),
    ("market_regime", (20,)),
    ("trailing_returns", (2, 8)),
    ("position", (8,)),
]


def test_blocks_in_order_with_their_shapes():
    assert [(b.name, b.shape) for b in SCHEMA.blocks] == EXPECTED


def test_dimensions():
    assert SCHEMA.dim == 15_822
    assert SCHEMA.market_dim == 15_814 == 3_000 + 9_600 + 2_400 + 512 + 16 + 250 + 20 + 16
    assert SCHEMA.market_channels == 56 and SCHEMA.market_steps == 300
    assert COB_FEATURES == 48


def test_offsets_are_contiguous_and_cover_the_vector():
    pos = 0
    for b in SCHEMA.blocks:
        start, end = SCHEMA.offsets()[b.name]
        assert (start, end) == (pos, pos + b.size)
        pos = end
    assert pos == SCHEMA.dim


def test_built_state_matches_the_schema():
    from engine.core.clock import EventClock
    from engine.market.state import MarketState

    state = StateBuilder().build(MarketState(("ETH/USDT", "BTC/USDT"), EventClock()), None)
    assert state.vector.shape == (SCHEMA.dim,) and state.vector.dtype == np.float32
    assert state.market_tensor.shape == (56, 300) and state.market_tensor.dtype == np.float32
    assert state.cob.shape == (48,) and state.schema == SCHEMA.fingerprint
    assert set(state.masks) == {b.name for b in SCHEMA.blocks}
    for b in SCHEMA.blocks:
        assert state.masks[b.name].shape == b.shape[:1]
        assert state.block(b.name).shape == b.shape
    assert [b.name for b in SCHEMA.blocks[: len(TIME_BLOCKS)]] == [b.name for b in TIME_BLOCKS]
    # An empty market: nothing is known, everything is zero and masked.
    assert not state.vector.any()
    assert not any(m.any() for m in state.masks.values())
