"""Builds the model state (engine/features/schema.py) from the market, causally and incrementally.

One `build` call reads only what is known at the clock's event time. Blocks derived from a
bar ring are cached by the ring's `.version`, so a 1h block is recomputed once an hour, not
per decision. Values are normalised (no raw prices): prices as percent log-returns against
the newest close, volumes as log1p or z-scores; missing history is zeros with a mask bit.

Bar blocks (8 per bar, newest bar last, missing older bars masked):
  0-3 open/high/low/close: 100*log(x / newest close);  4 log1p(volume) z-scored in the
  window;  5 log1p(trades) z-scored (0 for kline bars, which do not carry it);  6 buy share
  2*buy/volume - 1 (0 when unknown or no volume);  7 bar return 100*log(close/prev close).
  BTC enters at 1m only: minutes are where cross-asset lead/lag and correlation are
  measurable; 1s BTC bars are mostly noise and 1d too slow for a trading decision.
Tick block (10 per one-second slot over the last 300 s of event time, the current partial
second last; slots older than the oldest held trade are masked):
  0 log1p(trade count)  1 log1p(volume)  2 buy share 2*buy/volume - 1
  3 VWAP vs last price, bp  4 high-low range, bp  5 last trade price vs last price, bp
  6 signed volume sign*log1p(|buy - sell|)  7 log1p(mean trade size)
  8 first-to-last price change within the slot, bp  9 log1p(largest trade)
Trailing returns (2 x 8, engine/features/schema.py LOOKBACKS_S): row 0 ETH, row 1 BTC;
  10,000*log(last price / the close of the newest bar that closed at least LOOKBACK
  seconds ago), from the 1s bars up to 60 s and from the 1m bars beyond (and at 60 s when
  there are no 1s bars, as on kline data); a lookback older than the bars held is 0
  (the row's mask is off when none is known).
Position block (8): 0 side -1/0/+1  1 size / configured size  2 unrealised PnL, percent
  3 log1p(hold seconds)  4 equity change since start, percent  5 max favourable and 6 max
  adverse excursion, percent (masked unless given)  7 position notional / equity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np

from engine.market.bars import COL
from engine.features.cob import CobTracker
from engine.core.units import BP, NS_PER_S
from engine.market.state import TICK_WINDOW, MarketState, SymbolMarket
from engine.features.pivots import MarketStructure
from engine.features.regime import RegimeFeatures
from engine.features.returns import trailing_returns
from engine.features.schema import COB_FEATURES, SCHEMA, TIME_BLOCKS, WINDOW, FeatureSchema

TIMEFRAME_OF = {"eth_ohlcv_1s": "1s", "eth_ohlcv_1m": "1m", "eth_ohlcv_1h": "1h", "eth_ohlcv_1d": "1d", "btc_ohlcv_1m": "1m"}


@dataclass(slots=True)
class PositionInfo:
    """What the engine knows about the traded symbol's position and account."""

    side: int = 0  # -1 short, 0 flat, +1 long
    qty: float = 0.0
    entry_price: float | None = None
    entry_ns: int | None = None
    configured_qty: float | None = None
    equity: float | None = None
    start_equity: float | None = None
    max_favourable_pct: float | None = None
    max_adverse_pct: float | None = None


@dataclass(frozen=True)
class State:
    """One model input. `masks[block]` has one bool per row of the block (True = real data)."""

    vector: np.ndarray  # float32, schema.dim
    masks: dict[str, np.ndarray]
    market_tensor: np.ndarray  # float32, (channels, 300): time-block features + mask channels
    cob: np.ndarray  # float32, COB_FEATURES
    cob_mask: np.ndarray
    ts_ns: int
    schema: str  # fingerprint of the layout
    offsets: dict[str, tuple[int, int]] = field(repr=False)
    shapes: dict[str, tuple[int, ...]] = field(repr=False)

    def block(self, name: str) -> np.ndarray:
        """A block of the vector in its schema shape (a view)."""
        a, b = self.offsets[name]
        return self.vector[a:b].reshape(self.shapes[name])

    def with_cnn(self, hidden: np.ndarray, predictions: np.ndarray) -> "State":
        """A copy with the CNN blocks filled in (after the CNN ran on `market_tensor`)."""
        vec = self.vector.copy()
        masks = dict(self.masks)
        for name, values in (("cnn_hidden", hidden), ("cnn_predictions", predictions)):
            _put(vec, self.offsets[name], name, np.asarray(values, dtype=np.float64))
            masks[name] = np.ones(len(masks[name]), dtype=bool)
        return replace(self, vector=vec, masks=masks)


def _put(vec: np.ndarray, span: tuple[int, int], name: str, values: np.ndarray) -> None:
    a, b = span
    if values.size != b - a:
        raise ValueError(f"block {name}: {values.size} values, schema wants {b - a}")
    if not np.isfinite(values).all():
        raise ValueError(f"block {name}: non-finite values")
    vec[a:b] = values.ravel()


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def bar_block(bars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(300, 8) features and (300,) mask from up to 300 closed bars, oldest first."""
    out = np.zeros((WINDOW, 8))
    mask = np.zeros(WINDOW, dtype=bool)
    n = len(bars)
    if n == 0:
        return out, mask
    b = bars[-WINDOW:]
    n = len(b)
    close = b[:, COL["close"]]
    logp = np.log(b[:, COL["open"] : COL["close"] + 1])
    f = out[WINDOW - n :]
    f[:, 0:4] = 100 * (logp - logp[-1, 3])
    f[:, 4] = _zscore(np.log1p(b[:, COL["volume"]]))
    trades = b[:, COL["trades"]]
    known = np.isfinite(trades)
    if known.any():
        f[known, 5] = _zscore(np.log1p(trades[known]))
    vol, buy = b[:, COL["volume"]], b[:, COL["buy_volume"]]
    ok = np.isfinite(buy) & (vol > 0)
    f[ok, 6] = 2 * buy[ok] / vol[ok] - 1
    f[1:, 7] = 100 * np.diff(np.log(close))
    mask[WINDOW - n :] = True
    return out, mask


def tick_block(ticks: np.ndarray, now_ns: int, full_ring: bool) -> tuple[np.ndarray, np.ndarray]:
    """(300, 10) one-second trade features and (300,) mask at event time now_ns."""
    out = np.zeros((WINDOW, 10))
    mask = np.zeros(WINDOW, dtype=bool)
    start_ns = (now_ns // NS_PER_S + 1) * NS_PER_S - WINDOW * NS_PER_S
    ts = ticks[:, 0] if len(ticks) else ticks
    if len(ticks) == 0:
        return out, mask
    # Slots are known from the first trade seen (or, once the ring wrapped, its oldest trade).
    first_slot = max(int((ts[0] - start_ns) // NS_PER_S) + (1 if full_ring else 0), 0)
    mask[min(first_slot, WINDOW) :] = True
    lo = int(np.searchsorted(ts, start_ns, side="left"))
    hi = int(np.searchsorted(ts, now_ns, side="right"))
    t = ticks[lo:hi]
    last_px = ticks[hi - 1, 1] if hi > 0 else None
    if len(t) == 0 or last_px is None:
        return out, mask
    slot = ((t[:, 0] - start_ns) // NS_PER_S).astype(np.int64)
    px, qty, sgn = t[:, 1], t[:, 2], t[:, 3]
    # Trades are in time order, so each slot's trades are one contiguous run.
    starts = np.flatnonzero(np.concatenate(([True], slot[1:] != slot[:-1])))
    bounds = np.append(starts, len(t))
    ends = bounds[1:] - 1
    s = slot[starts]
    count = np.diff(bounds)
    vol = np.add.reduceat(qty, starts)
    buy = np.add.reduceat(qty * (sgn > 0), starts)
    vwap = np.add.reduceat(px * qty, starts) / vol
    out[s, 0] = np.log1p(count)
    out[s, 1] = np.log1p(vol)
    out[s, 2] = 2 * buy / vol - 1
    out[s, 3] = np.log(vwap / last_px) * BP
    out[s, 4] = np.log(np.maximum.reduceat(px, starts) / np.minimum.reduceat(px, starts)) * BP
    out[s, 5] = np.log(px[ends] / last_px) * BP
    signed = 2 * buy - vol
    out[s, 6] = np.sign(signed) * np.log1p(np.abs(signed))
    out[s, 7] = np.log1p(vol / count)
    out[s, 8] = np.log(px[ends] / px[starts]) * BP
    out[s, 9] = np.log1p(np.maximum.reduceat(qty, starts))
    return out, mask


def position_block(pos: PositionInfo | dict | None, price: float | None, now_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """(8,) features and (8,) mask; a missing input gives zeros with the mask off."""
    f = np.zeros(8)
    m = np.zeros(8, dtype=bool)
    if pos is None:
        return f, m
    if isinstance(pos, dict):
        names = {fl.name for fl in fields(PositionInfo)}
        pos = PositionInfo(**{k: v for k, v in pos.items() if k in names})
    f[0], m[0] = float(np.sign(pos.side)), True
    if pos.configured_qty:
        f[1], m[1] = pos.qty / pos.configured_qty, True
    flat = pos.side == 0 or pos.qty == 0
    if flat:
        m[2:4] = True  # flat: no PnL and no hold time, truly zero
    else:
        if pos.entry_price and price:
            f[2], m[2] = np.sign(pos.side) * math.log(price / pos.entry_price) * 100, True
        if pos.entry_ns is not None:
            f[3], m[3] = math.log1p(max(now_ns - pos.entry_ns, 0) / NS_PER_S), True
    if pos.equity and pos.start_equity:
        f[4], m[4] = (pos.equity / pos.start_equity - 1) * 100, True
    for i, v in ((5, pos.max_favourable_pct), (6, pos.max_adverse_pct)):
        if v is not None:
            f[i], m[i] = v, True
    if pos.equity and price:
        f[7], m[7] = np.sign(pos.side) * pos.qty * price / pos.equity, True
    return f, m


class StateBuilder:
    """Builds `State`s for one traded symbol against a reference symbol."""

    def __init__(self, schema: FeatureSchema = SCHEMA, traded: str = "ETH/USDT", reference: str = "BTC/USDT") -> None:
        self.schema = schema
        self.traded = traded
        self.reference = reference
        self.offsets = schema.offsets()
        self._bar_cache: dict[str, tuple[tuple[int, int], np.ndarray, np.ndarray]] = {}
        # The vector, masks and market tensor as of the last build. A block whose inputs have
        # not changed since (a bar block until its ring gets a bar, the pivots until a bar
        # closes) is not written, checked or transposed again: each build copies these.
        self._vec = np.zeros(schema.dim, dtype=np.float32)
        self._masks: dict[str, np.ndarray] = {}
        self._tensor = np.zeros((schema.market_channels, schema.market_steps), dtype=np.float32)
        self._written: dict[str, object] = {}  # block -> cache key of what _vec holds
        self.structure = MarketStructure()
        self.regime = RegimeFeatures()
        self.cob = {traded: CobTracker(), reference: CobTracker()}
        self.shapes = {b.name: b.shape for b in schema.blocks}
        # time block -> (its first feature row, its mask row) in the market tensor
        feature_rows = np.cumsum([0] + [b.shape[1] for b in TIME_BLOCKS])
        self._tensor_rows = {b.name: (int(feature_rows[i]), int(feature_rows[-1]) + i) for i, b in enumerate(TIME_BLOCKS)}
        self.fingerprint = schema.fingerprint
        if tuple(b for b in schema.blocks[: len(TIME_BLOCKS)]) != TIME_BLOCKS:
            raise ValueError("schema time blocks do not match the state builder")

    def observe_books(self, market: MarketState) -> None:
        """Let the COB trackers see the books now (call per book event for exact OFI)."""
        for sym, tracker in self.cob.items():
            if sym in market.by_symbol:
                tracker.observe(market.by_symbol[sym].book)

    def _bars(self, name: str, sym: SymbolMarket | None) -> tuple[tuple[int, int] | None, np.ndarray, np.ndarray]:
        """(cache key, features, mask) of a bar block; the key is None for an absent symbol."""
        if sym is None:
            return (None, *bar_block(np.empty((0, 8))))
        ring = sym.bars.rings[TIMEFRAME_OF[name]]
        key = (id(ring), ring.version)
        hit = self._bar_cache.get(name)
        if hit is None or hit[0] != key:
            hit = (key, *bar_block(ring.last(WINDOW)))
            self._bar_cache[name] = hit
        return hit

    def _write(self, name: str, values: np.ndarray, mask: np.ndarray, key: object) -> None:
        """Put one block into the running vector, masks and (time blocks) tensor, unless the
        same `key` (not None) was written last time: then what is there is already it."""
        if key is not None and self._written.get(name) == key:
            return
        shape = self.shapes[name]
        if mask.shape != shape[:1]:
            raise ValueError(f"block {name}: mask shape {mask.shape}, schema rows {shape[:1]}")
        a, e = self.offsets[name]
        _put(self._vec, (a, e), name, values)
        self._masks[name] = mask.copy()
        self._written[name] = key
        rows = self._tensor_rows.get(name)
        if rows is not None:
            first, mask_row = rows
            self._tensor[first : first + shape[1]] = self._vec[a:e].reshape(shape).T
            self._tensor[mask_row] = mask

    def build(
        self,
        market: MarketState,
        position: PositionInfo | dict | None = None,
        cnn_hidden: np.ndarray | None = None,
        cnn_predictions: np.ndarray | None = None,
    ) -> State:
        now_ns = market.clock.now_ns()
        eth = market.by_symbol[self.traded]
        btc = market.by_symbol.get(self.reference)
        ticks = eth.recent_ticks()
        keys: dict[str, object] = {}  # blocks that can be unchanged since the last build
        blocks: dict[str, tuple[np.ndarray, np.ndarray]] = {
            "eth_ticks_1s": tick_block(ticks, now_ns, eth.tick_count > TICK_WINDOW)
        }
        for name in ("eth_ohlcv_1s", "eth_ohlcv_1m", "eth_ohlcv_1h", "eth_ohlcv_1d", "btc_ohlcv_1m"):
            keys[name], values, mask = self._bars(name, eth if name.startswith("eth") else btc)
            blocks[name] = (values, mask)
        for name, values in (("cnn_hidden", cnn_hidden), ("cnn_predictions", cnn_predictions)):
            size = self.schema.block(name).size
            blocks[name] = (
                (np.zeros(size), np.zeros(size, dtype=bool))
                if values is None
                else (np.asarray(values, dtype=np.float64), np.ones(size, dtype=bool))
            )
        blocks["williams_pivots"] = self.structure.update(eth.bars.rings)
        keys["williams_pivots"] = (id(self.structure), self.structure.version)
        blocks["market_regime"] = self.regime.compute(eth, btc)
        rows = [trailing_returns(sym, now_ns) for sym in (eth, btc)]
        blocks["trailing_returns"] = (np.stack([r for r, _ in rows]), np.array([k for _, k in rows]))
        blocks["position"] = position_block(position, eth.last_price, now_ns)
        for b in self.schema.blocks:
            self._write(b.name, *blocks[b.name], keys.get(b.name))
        vec = self._vec.copy()
        masks = {name: mask.copy() for name, mask in self._masks.items()}
        tensor = self._tensor.copy()
        ref_tracker = self.cob[self.reference] if btc is not None else None
        if btc is not None:
            ref_tracker.observe(btc.book)
        cob, cob_mask = self.cob[self.traded].features(eth.book, ticks, now_ns, ref_tracker)
        if cob.shape != (COB_FEATURES,) or not np.isfinite(cob).all():
            raise ValueError("COB vector malformed or non-finite")
        return State(
            vector=vec,
            masks=masks,
            market_tensor=tensor,
            cob=cob.astype(np.float32),
            cob_mask=cob_mask,
            ts_ns=now_ns,
            schema=self.fingerprint,
            offsets=self.offsets,
            shapes=self.shapes,
        )
