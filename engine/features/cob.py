"""The 48-feature consolidated-order-book (COB) vector, indexed below.

It is the COB model's input. Book history is kept in one-second buckets over the last
300 s (last mid, L1 and multi-level order-flow imbalance, band depths), so windows are
slices and nothing is recomputed from raw updates. `observe` should see every book change
for exact OFI (the engine may call it per book event); where it is only called at decision
time, OFI is measured between those samples. A bars-only market (empty book) gives zeros
with the validity flag (feature 45) at 0 and every book feature masked.

Index  feature (prices in bp of mid, sizes as log1p of quote notional)
0      spread
1-2    L1 weighted mid - mid; top-5 size-weighted mid - mid
3-5    mid log-return over 1 / 10 / 60 s
6-10   bid notional within 5/10/25/50/100 bp;  11-15 the same for asks
16     L1 queue imbalance 2*qb/(qb+qa) - 1;  17-21 depth imbalance within the 5 bands
22-24  L1 OFI over 1 / 5 / 30 s / mean L1 size;  25 MLOFI (levels 1-5) over 5 s / top-5 size
26-29  signed taker volume over 1/5/30/60 s / (5-min volume pro rata)
30     log(trades in 5 s + 1) - log(mean 5-s count over 5 min + 1);  31 VWAP(30 s) - mid
32-33  realised 1-s mid volatility over 30 s and 300 s (bp)
34     spread z-score against an exponentially weighted 1-h mean/variance
35-36  book slope bid / ask: OLS slope of log1p(cumulative notional) on distance (per bp)
37-38  log change of bid / ask notional within 25 bp over 5 s
39     basis vs a second venue (none yet: 0, masked)
40-41  reference (BTC) L1 OFI over 5 s / its L1 size, and its 5-s mid return
42     perp-spot basis (none yet: 0, masked)
43-44  log1p seconds since the last book update / the last trade
45     book valid (1) or empty (0);  46 crossed or locked;  47 venues with a book (0/1)
"""

from __future__ import annotations

import math

import numpy as np

from engine.market.book import OrderBook
from engine.core.units import BP, NS_PER_S
from engine.market.state import TICK_WINDOW
from engine.features.schema import COB_FEATURES

BANDS_BP = np.array([5.0, 10.0, 25.0, 50.0, 100.0])
BAND_25 = np.array([25.0])
HORIZON_S = 300  # seconds of bucket history kept
SPREAD_TAU_S = 3600.0  # time constant of the spread mean/variance
DEPTH = 20  # levels per side read from the book


def _ofi(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Per-level order-flow imbalance (Cont, Kukanov & Stoikov 2014) between two states.

    Rows are levels; columns bid_px, bid_qty, ask_px, ask_qty."""
    bp0, bq0, ap0, aq0 = prev.T
    bp1, bq1, ap1, aq1 = cur.T
    return (bp1 >= bp0) * bq1 - (bp1 <= bp0) * bq0 - (ap1 <= ap0) * aq1 + (ap1 >= ap0) * aq0


def _levels(bids: np.ndarray, asks: np.ndarray, n: int) -> np.ndarray | None:
    k = min(n, len(bids), len(asks))
    if k == 0:
        return None
    return np.column_stack((bids[:k, 0], bids[:k, 1], asks[:k, 0], asks[:k, 1]))


class CobTracker:
    """Per-symbol book history in 1-s buckets; `features` returns (values, mask)."""

    def __init__(self) -> None:
        n = HORIZON_S + 1
        self._mid = np.zeros(n)
        self._ofi1 = np.zeros(n)
        self._mlofi = np.zeros(n)
        self._depth = np.zeros((n, 2))  # bid, ask notional within 25 bp
        self._sec: int | None = None  # bucket of the newest observation
        self._first_sec = 0
        self._seen_updates = -1
        self._observed = 0  # book states recorded (OFI needs two)
        self._prev: np.ndarray | None = None  # top-5 levels at the previous observation
        self._spread_mean = 0.0
        self._spread_var = 0.0
        self._spread_s: float | None = None

    def _roll_to(self, sec: int) -> None:
        """Start buckets up to `sec`; seconds without book changes keep the last state."""
        if self._sec is None or sec <= self._sec:
            return
        last = self._sec % len(self._mid)
        for s in range(max(self._sec + 1, sec - HORIZON_S), sec + 1):
            i = s % len(self._mid)
            self._mid[i] = self._mid[last]
            self._depth[i] = self._depth[last]
            self._ofi1[i] = self._mlofi[i] = 0.0
        self._sec = sec

    def observe(self, book: OrderBook) -> None:
        """Record the book (at its own update time) if it changed since the last call."""
        if book.updates == self._seen_updates or book.is_empty:
            return
        self._seen_updates = book.updates
        bids, asks = book.top(DEPTH)
        if bids[0, 0] >= asks[0, 0]:
            return  # crossed or locked: not a state to learn from
        self._observed += 1
        cur = _levels(bids, asks, 5)
        mid = 0.5 * (bids[0, 0] + asks[0, 0])
        ts_ns = book.ts_ns
        sec = ts_ns // NS_PER_S
        if self._sec is None:
            self._sec = self._first_sec = sec
        self._roll_to(sec)
        i = self._sec % len(self._mid)
        if self._prev is not None:
            k = min(len(self._prev), len(cur))
            flow = _ofi(self._prev[:k], cur[:k])
            self._ofi1[i] += flow[0]
            self._mlofi[i] += flow.sum()
        self._prev = cur
        self._mid[i] = mid
        self._depth[i] = _band_notional(bids, asks, mid, BAND_25)[0]
        spread = (asks[0, 0] - bids[0, 0]) / mid * BP
        t = ts_ns / NS_PER_S
        if self._spread_s is None:
            self._spread_mean, self._spread_var = spread, 0.0
        else:
            a = 1.0 - math.exp(-max(t - self._spread_s, 0.0) / SPREAD_TAU_S)
            d = spread - self._spread_mean
            self._spread_mean += a * d
            self._spread_var = (1.0 - a) * (self._spread_var + a * d * d)
        self._spread_s = t

    def _window(self, arr: np.ndarray, n: int) -> np.ndarray:
        """The newest `n` buckets (oldest first), limited to what has been observed."""
        n = min(n, self._sec - self._first_sec + 1, HORIZON_S + 1)
        idx = np.arange(self._sec - n + 1, self._sec + 1) % len(self._mid)
        return arr[idx]

    def _span(self) -> int:
        return 0 if self._sec is None else self._sec - self._first_sec

    def reference(self, now_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """(5-s L1 OFI / L1 size, 5-s mid return bp) of this book, for another symbol's vector."""
        if self._sec is None or self._prev is None or self._span() < 5:
            return np.zeros(2), np.zeros(2, dtype=bool)
        self._roll_to(now_ns // NS_PER_S)
        l1 = 0.5 * (self._prev[0, 1] + self._prev[0, 3])
        mids = self._window(self._mid, 6)
        return np.array([self._window(self._ofi1, 5).sum() / l1, math.log(mids[-1] / mids[0]) * BP]), np.ones(2, dtype=bool)

    def features(
        self, book: OrderBook, ticks: np.ndarray, now_ns: int, reference: "CobTracker | None" = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The 48 values and their validity mask at event time `now_ns` (causal)."""
        f = np.zeros(COB_FEATURES)
        m = np.zeros(COB_FEATURES, dtype=bool)
        now_s = now_ns / NS_PER_S
        vwap = self._trade_features(ticks, now_ns, f, m)
        f[43] = math.log1p(max(now_s - book.ts_ns / NS_PER_S, 0.0)) if book.updates else 0.0
        m[43] = book.updates > 0
        self.observe(book)
        bids, asks = book.top(DEPTH) if not book.is_empty else (None, None)
        crossed = bids is not None and bids[0, 0] >= asks[0, 0]
        f[46] = float(crossed)
        m[45:48] = True
        if bids is None or crossed or self._sec is None:
            return f, m
        f[45] = f[47] = 1.0
        self._roll_to(now_ns // NS_PER_S)
        mid = 0.5 * (bids[0, 0] + asks[0, 0])
        qb, qa = bids[0, 1], asks[0, 1]
        f[0] = (asks[0, 0] - bids[0, 0]) / mid * BP
        f[1] = ((bids[0, 0] * qa + asks[0, 0] * qb) / (qa + qb) - mid) / mid * BP
        top = _levels(bids, asks, 5)
        wb, wa = top[:, 1].sum(), top[:, 3].sum()
        f[2] = ((top[:, 0] @ top[:, 1] + top[:, 2] @ top[:, 3]) / (wb + wa) - mid) / mid * BP
        m[0:3] = True
        mids = self._window(self._mid, 61)
        for j, lag in enumerate((1, 10, 60)):
            if len(mids) > lag:
                f[3 + j] = math.log(mids[-1] / mids[-1 - lag]) * BP
                m[3 + j] = True
        bands = _band_notional(bids, asks, mid, BANDS_BP)  # (5, 2)
        f[6:11], f[11:16] = np.log1p(bands[:, 0]), np.log1p(bands[:, 1])
        f[16] = 2.0 * qb / (qb + qa) - 1.0
        tot = bands.sum(axis=1)
        f[17:22] = np.divide(bands[:, 0] - bands[:, 1], tot, out=np.zeros(5), where=tot > 0)
        m[6:22] = True
        l1 = 0.5 * (qb + qa)
        for j, w in enumerate((1, 5, 30)):
            f[22 + j] = self._window(self._ofi1, w).sum() / l1
        f[25] = self._window(self._mlofi, 5).sum() / (0.5 * (wb + wa))
        m[22:26] = self._observed >= 2
        rets = np.diff(np.log(self._window(self._mid, HORIZON_S + 1))) * BP
        for j, w in enumerate((30, 300)):
            if len(rets) >= w:
                f[32 + j] = float(rets[-w:].std())
                m[32 + j] = True
        if self._spread_var > 0.0:
            f[34] = (f[0] - self._spread_mean) / math.sqrt(self._spread_var)
            m[34] = True
        f[35] = _slope(bids, mid)
        f[36] = _slope(asks, mid)
        m[35:37] = True
        depth = self._window(self._depth, 6)
        if len(depth) == 6 and (depth > 0).all():
            f[37:39] = np.log(depth[-1] / depth[0])
            m[37:39] = True
        if reference is not None:
            f[40:42], m[40:42] = reference.reference(now_ns)
        if vwap is not None:
            f[31] = (vwap - mid) / mid * BP
            m[31] = True
        return f, m

    @staticmethod
    def _trade_features(ticks: np.ndarray, now_ns: int, f: np.ndarray, m: np.ndarray) -> float | None:
        """Trade flow from the recent-trades ring (ts_ns, price, qty, +-1) known by now_ns;
        fills features 26-30 and 44 and returns the 30-s VWAP (None without trades)."""
        if len(ticks) == 0:
            return None
        ts = ticks[:, 0]
        end = int(np.searchsorted(ts, now_ns, side="right"))
        f[44] = math.log1p(max(now_ns - ts[end - 1], 0) / NS_PER_S) if end else 0.0
        m[44] = end > 0
        start = int(np.searchsorted(ts, now_ns - HORIZON_S * NS_PER_S, side="right"))
        covered = end > 0 and (start > 0 or len(ticks) < TICK_WINDOW)  # the ring reaches back 5 min
        if not covered or end == start:
            return None
        t = ticks[start:end]
        vol5m = t[:, 2].sum()
        age = (now_ns - t[:, 0]) / NS_PER_S
        for j, w in enumerate((1, 5, 30, 60)):
            sel = age < w
            f[26 + j] = (t[sel, 2] * t[sel, 3]).sum() / (vol5m * w / HORIZON_S)
        m[26:30] = True
        n5 = np.count_nonzero(age < 5)
        f[30] = math.log(n5 + 1) - math.log(len(t) / (HORIZON_S / 5) + 1)
        m[30] = True
        s30 = age < 30
        return float(t[s30, 1] @ t[s30, 2] / t[s30, 2].sum()) if s30.any() else None


def _band_notional(bids: np.ndarray, asks: np.ndarray, mid: float, bands_bp: np.ndarray) -> np.ndarray:
    """Quote notional within each band of mid: shape (len(bands_bp), 2) for bid, ask.

    Walks the levels (best first, so distance grows) as Python floats and stops past the
    widest band: the tracker calls this on every book change, where a handful of numpy calls
    on 20 levels cost several times the walk. Sums run in the same order as a cumsum."""
    bands = bands_bp.tolist()
    out = np.empty((len(bands), 2))
    for j, (levels, sign) in enumerate(((bids, -1.0), (asks, 1.0))):
        cum, b = 0.0, 0
        for p, q in levels.tolist():
            dist = sign * (p - mid) / mid * BP
            while b < len(bands) and dist > bands[b]:
                out[b, j] = cum
                b += 1
            if b == len(bands):
                break
            cum += p * q
        out[b:, j] = cum
    return out


def _slope(levels: np.ndarray, mid: float) -> float:
    """OLS slope of log1p(cumulative notional) against distance from mid in bp."""
    if len(levels) < 2:
        return 0.0
    x = np.abs(levels[:, 0] - mid) / mid * BP
    y = np.log1p(np.cumsum(levels[:, 0] * levels[:, 1]))
    xc = x - x.mean()
    den = xc @ xc
    return float(xc @ (y - y.mean()) / den) if den > 0 else 0.0
