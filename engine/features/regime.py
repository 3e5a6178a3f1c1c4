"""The 20 market-regime features: volatility, trend, cross-asset and liquidity state.

They tell the agent which kind of market it is in (quiet or violent, trending or mean-
reverting, moving with BTC or on its own, liquid or thin). All are causal: computed from
closed bars and the current book only. The 1m/1h/1d part is cached by the rings' `.version`;
the 1s volatility and the two book features are computed on every call. Each feature has a validity bit: too little history
gives 0 with the bit off, never an estimate from a handful of bars.

Index  feature (returns are log returns; "bp" = basis points)
0      realised vol of 1s bars over 60 bars, log1p(bp)
1-3    realised vol of 1m bars over 15 / 60 / 240 bars, log1p(bp)
4      log(vol 15 / vol 240) on 1m: volatility expanding (>0) or contracting
5      realised vol of 1h bars over 24 bars, log1p(bp)
6-7    trend t-stat on 1m over 60 / 240 bars: sum of returns / (std * sqrt(n))
8      efficiency ratio on 1m over 60 bars: |net move| / path length (1 = straight line)
9      ADX-like trend strength on 1m (14 bars, moving sums instead of Wilder smoothing) / 100
10     (+DI - -DI) / 100 on the same bars: direction of that trend
11     ETH/BTC correlation of 1m returns over 60 bars;  13 the same over 240 bars
12     beta of ETH on BTC 1m returns over 60 bars
14     ETH 60-bar return net of beta * BTC return, percent (idiosyncratic move)
15     variance ratio var(5-bar returns) / (5 var(1-bar)) over 240 1m bars - 1
16     volume z-score: mean log1p(volume) of the last 15 1m bars vs the 240 before
17     spread, bp (book)
18     log1p quote notional within 25 bp of mid, both sides (book)
19     close's position in the 20-day high-low range (0..1, 1d bars)
"""

from __future__ import annotations

import math

import numpy as np

from engine.core.units import BP
from engine.market.bars import COL
from engine.market.state import SymbolMarket
from engine.features.schema import REGIME_FEATURES



def _rets(bars: np.ndarray) -> np.ndarray:
    return np.diff(np.log(bars[:, COL["close"]]))


def _vol(r: np.ndarray, n: int) -> float | None:
    return math.log1p(float(r[-n:].std()) * BP) if len(r) >= n else None


def _adx(bars: np.ndarray, n: int = 14) -> tuple[float, float] | None:
    """(ADX, +DI - -DI) in 0..100 units from moving sums over n bars; None if too short."""
    if len(bars) < 2 * n + 1:
        return None
    h, lo, c = bars[:, COL["high"]], bars[:, COL["low"]], bars[:, COL["close"]]
    up, down = np.diff(h), -np.diff(lo)
    plus = np.where((up > down) & (up > 0), up, 0.0)
    minus = np.where((down > up) & (down > 0), down, 0.0)
    tr = np.maximum(h[1:], c[:-1]) - np.minimum(lo[1:], c[:-1])

    def msum(x: np.ndarray) -> np.ndarray:
        cs = np.concatenate(([0.0], np.cumsum(x)))
        return cs[n:] - cs[:-n]

    trs = msum(tr)
    pdi = 100 * np.divide(msum(plus), trs, out=np.zeros_like(trs), where=trs > 0)
    mdi = 100 * np.divide(msum(minus), trs, out=np.zeros_like(trs), where=trs > 0)
    s = pdi + mdi
    dx = 100 * np.divide(np.abs(pdi - mdi), s, out=np.zeros_like(s), where=s > 0)
    return float(dx[-n:].mean()), float(pdi[-1] - mdi[-1])


class RegimeFeatures:
    """Regime vector for a traded symbol against a reference symbol."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._bars = np.zeros(REGIME_FEATURES)
        self._bars_mask = np.zeros(REGIME_FEATURES, dtype=bool)

    def compute(self, traded: SymbolMarket, reference: SymbolMarket | None) -> tuple[np.ndarray, np.ndarray]:
        """Return (values, mask), each of length 20."""
        rings = traded.bars.rings
        key = tuple(rings[tf].version for tf in ("1m", "1h", "1d"))
        key += (reference.bars.rings["1m"].version,) if reference is not None else (None,)
        if key != self._key:
            self._key = key
            self._bars, self._bars_mask = self._from_bars(traded, reference)
        f, m = self._bars.copy(), self._bars_mask.copy()
        vol_1s = _vol(_rets(rings["1s"].last(61)), 60)  # changes every second: not cached
        if vol_1s is not None:
            f[0], m[0] = vol_1s, True
        book = traded.book
        bids, asks = book.top(20) if not book.is_empty else (None, None)
        if bids is not None and bids[0, 0] < asks[0, 0]:
            mid = 0.5 * (bids[0, 0] + asks[0, 0])
            f[17] = (asks[0, 0] - bids[0, 0]) / mid * BP
            near_b = bids[bids[:, 0] >= mid * (1 - 25 / BP)]
            near_a = asks[asks[:, 0] <= mid * (1 + 25 / BP)]
            f[18] = math.log1p(near_b[:, 0] @ near_b[:, 1] + near_a[:, 0] @ near_a[:, 1])
            m[17:19] = True
        return f, m

    @staticmethod
    def _from_bars(traded: SymbolMarket, reference: SymbolMarket | None) -> tuple[np.ndarray, np.ndarray]:
        f = np.zeros(REGIME_FEATURES)
        m = np.zeros(REGIME_FEATURES, dtype=bool)
        rings = traded.bars.rings

        def put(i: int, v: float | None) -> None:
            if v is not None and math.isfinite(v):
                f[i], m[i] = v, True

        b1m = rings["1m"].last()
        r = _rets(b1m)
        sd = {n: float(r[-n:].std()) for n in (15, 60, 240) if len(r) >= n}
        for i, n in zip((1, 2, 3), (15, 60, 240)):
            if n in sd:
                put(i, math.log1p(sd[n] * BP))
        if sd.get(15, 0) > 0 and sd.get(240, 0) > 0:
            put(4, math.log(sd[15] / sd[240]))
        put(5, _vol(_rets(rings["1h"].last(25)), 24))
        for i, n in ((6, 60), (7, 240)):
            if sd.get(n, 0) > 0:
                put(i, float(r[-n:].sum() / (sd[n] * math.sqrt(n))))
        if len(r) >= 60:
            path = np.abs(r[-60:]).sum()
            put(8, float(abs(r[-60:].sum()) / path) if path > 0 else 0.0)
        adx = _adx(b1m)
        if adx is not None:
            put(9, adx[0] / 100)
            put(10, adx[1] / 100)
        ref_bars = reference.bars.rings["1m"].last() if reference is not None else np.empty((0, 8))
        if len(ref_bars) and len(b1m) and ref_bars[-1, COL["open_time_s"]] == b1m[-1, COL["open_time_s"]]:
            rb = _rets(ref_bars)  # same minute grid: returns line up bar for bar
            for n in (60, 240):
                if min(len(r), len(rb)) < n:
                    continue
                x, y = r[-n:] - r[-n:].mean(), rb[-n:] - rb[-n:].mean()
                sxx, syy, sxy = x @ x, y @ y, x @ y
                if sxx > 0 and syy > 0:
                    put(11 if n == 60 else 13, float(sxy / math.sqrt(sxx * syy)))
                if n == 60 and syy > 0:
                    put(12, float(sxy / syy))
                    put(14, float(r[-60:].sum() - sxy / syy * rb[-60:].sum()) * 100)
        if sd.get(240, 0) > 0:
            c = np.cumsum(r[-240:])
            r5 = c[5:] - c[:-5]
            put(15, float(r5.var() / (5 * sd[240] ** 2)) - 1.0)
        if len(b1m) >= 255:
            lv = np.log1p(b1m[:, COL["volume"]])
            base = lv[-255:-15]
            if base.std() > 0:
                put(16, float((lv[-15:].mean() - base.mean()) / base.std()))
        d = rings["1d"].last(20)
        if len(d) >= 20:
            hi, lo = d[:, COL["high"]].max(), d[:, COL["low"]].min()
            if hi > lo:
                put(19, float((d[-1, COL["close"]] - lo) / (hi - lo)))
        return f, m
