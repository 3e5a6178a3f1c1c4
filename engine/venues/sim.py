"""The simulated market (labelled SIM everywhere): a deterministic market generator.

ETH/USDT and BTC/USDT mids follow correlated log-random walks whose volatility switches
between a calm and a volatile regime (a two-state Markov chain). Trades arrive as Poisson
processes (faster when volatile) at the touch of a 20-level book that is refreshed several
times a second. History bars for every timeframe are generated before the first event so the
state builder has context. Same seed, same market, event for event.

On top of the walk sits the configured edge (engine/venues/sim_edges.py): a planted, stated
pattern that models can learn. It is named wherever SIM is shown (`description`,
`edge_summary`). With `edge = "none"` the market is the plain walk, draw for draw.
"""

from __future__ import annotations

import heapq
import math
from typing import AsyncIterator

import numpy as np

from engine.core.units import TIMEFRAME_NS, TIMEFRAMES
from engine.config import SimSettings
from engine.core.enums import FeedState, Side
from engine.core.events import BarEvent, BookEvent, Event, FeedStatus, TradeEvent
from engine.core.units import NS_PER_S
from engine.venues.sim_edges import EDGE_NAMES, Edge, make_edge

SECONDS_PER_YEAR = 365.0 * 86400.0
TICK_SIZE = 0.01
VOLATILE_TRADE_BOOST = 2.5  # trade arrivals scale up in the volatile regime


class SimVenue:
    name = "sim"
    label = "SIM"

    def __init__(self, settings: SimSettings, symbols: tuple[str, ...]) -> None:
        missing = [s for s in symbols if s not in settings.prices]
        if missing:
            raise ValueError(f"sim.prices has no starting price for {', '.join(missing)}")
        self.settings = settings
        self.symbols = symbols
        self._rng = np.random.default_rng(settings.seed)
        self.start_ns = int(settings.start.timestamp()) * NS_PER_S
        self._mid = np.array([settings.prices[s] for s in symbols], dtype=np.float64)
        n = len(symbols)
        corr = np.full((n, n), settings.correlation)
        np.fill_diagonal(corr, 1.0)
        self._chol = np.linalg.cholesky(corr + 1e-9 * np.eye(n))
        self.volatile = False
        self._counts = {s: {"trades": 0, "book_updates": 0, "gaps": 0} for s in symbols}
        self._closed = False
        self._trade_id = 0
        self.edge: Edge | None = make_edge(settings, symbols, self._chol, self.start_ns)

    @property
    def description(self) -> str:
        """The planted edge, as the header shows it after the SIM badge."""
        return f"edge: {EDGE_NAMES[self.edge.kind] if self.edge else 'none'}"

    def edge_summary(self) -> dict[str, object]:
        """The planted edge as the session summary states it (strength 0 means none)."""
        if self.edge is None:
            return {"edge": "none", "strength": 0.0, "horizon_s": None, "signal": None, "predicts": None}
        return self.edge.statement(self.symbols)

    # -- volatility -----------------------------------------------------------------------
    def _sigma_per_s(self) -> float:
        annual = self.settings.annual_vol_volatile if self.volatile else self.settings.annual_vol_calm
        return annual / math.sqrt(SECONDS_PER_YEAR)

    def _spread_bp(self) -> float:
        return 1.0 if not self.volatile else 3.0

    # -- history --------------------------------------------------------------------------
    async def warmup(self) -> list[BarEvent]:
        """`history_bars` bars of each timeframe per symbol, ending at the start price.

        Each timeframe is its own correlated random walk at that bar size, scaled so the
        last close equals the starting price. The timeframes are not mutually consistent
        (the last 60 1s bars do not aggregate into the last 1m bar); they give the models
        context of the right scale and are labelled SIM like everything else.
        """
        out: list[BarEvent] = []
        rng = np.random.default_rng(self.settings.seed + 1_000_003)
        nbars = self.settings.history_bars
        if nbars == 0:
            return out
        sigma_s = self.settings.annual_vol_calm / math.sqrt(SECONDS_PER_YEAR)
        for tf in TIMEFRAMES:
            step_s = TIMEFRAME_NS[tf] / NS_PER_S
            sig = sigma_s * math.sqrt(step_s)
            z = rng.standard_normal((nbars, 4, len(self.symbols))) @ self._chol.T
            rets = z[:, 0, :] * sig
            closes = np.cumsum(rets, axis=0)
            closes -= closes[-1]
            opens = np.vstack([closes[:1] - rets[:1], closes[:-1]])
            wick = np.abs(z[:, 1:3, :]) * sig * 0.5
            highs = np.maximum(opens, closes) + wick[:, 0, :]
            lows = np.minimum(opens, closes) - wick[:, 1, :]
            base_vol = self.settings.trades_per_s * step_s
            for j, sym in enumerate(self.symbols):
                p0 = float(self._mid[j])
                vol_scale = base_vol * (0.05 if p0 > 10000 else 0.5)
                vols = vol_scale * np.exp(0.5 * np.abs(z[:, 3, j]))
                for i in range(nbars):
                    ts = self.start_ns - (nbars - i) * TIMEFRAME_NS[tf]
                    out.append(
                        BarEvent(
                            ts, sym, tf,
                            _tick(p0 * math.exp(opens[i, j])), _tick(p0 * math.exp(highs[i, j])),
                            _tick(p0 * math.exp(lows[i, j])), _tick(p0 * math.exp(closes[i, j])),
                            float(round(vols[i], 6)),
                        )
                    )
        out.sort(key=lambda b: (b.ts_ns, b.symbol))
        return out

    # -- live stream ----------------------------------------------------------------------
    def _book(self, j: int, ts_ns: int) -> BookEvent:
        sym = self.symbols[j]
        mid = float(self._mid[j])
        half = max(TICK_SIZE, mid * self._spread_bp() / 2e4)
        levels = self.settings.book_levels
        k = np.arange(levels)
        step = max(TICK_SIZE, round(mid * 0.5e-4, 2))
        bid_px = np.round((mid - half - k * step) / TICK_SIZE) * TICK_SIZE
        ask_px = np.round((mid + half + k * step) / TICK_SIZE) * TICK_SIZE
        ask_px = np.maximum(ask_px, bid_px[0] + TICK_SIZE + k * TICK_SIZE)
        unit = 2.0 if mid < 10000 else 0.1
        sizes = unit * (1.0 + 0.35 * k) * self._rng.lognormal(0.0, 0.5, (2, levels))
        if self.edge is not None and self.edge.kind == "imbalance":
            # The touch splits its total size by the queued order flow: heavy bids ahead of a rise.
            imb = self.edge.touch_imbalance(j, self._sigma_per_s())
            touch = sizes[0, 0] + sizes[1, 0]
            sizes[0, 0], sizes[1, 0] = touch * (1.0 + imb) / 2.0, touch * (1.0 - imb) / 2.0
        bids = np.column_stack([bid_px, np.round(sizes[0], 4)])
        asks = np.column_stack([ask_px, np.round(sizes[1], 4)])
        self._counts[sym]["book_updates"] += 1
        return BookEvent(ts_ns, sym, bids, asks, is_snapshot=True)

    def _trade(self, j: int, ts_ns: int) -> TradeEvent:
        sym = self.symbols[j]
        mid = float(self._mid[j])
        half = max(TICK_SIZE, mid * self._spread_bp() / 2e4)
        buy = self._rng.random() < 0.5
        price = _tick(mid + half if buy else mid - half)
        unit = 0.4 if mid < 10000 else 0.02
        qty = float(round(unit * self._rng.lognormal(-0.5, 1.0), 5)) or unit / 100
        self._trade_id += 1
        self._counts[sym]["trades"] += 1
        return TradeEvent(ts_ns, sym, price, qty, Side.BUY if buy else Side.SELL, self._trade_id)

    def _diffuse(self, ts_ns: int, dt_s: float) -> None:
        if dt_s <= 0:
            return
        z = self._chol @ self._rng.standard_normal(len(self.symbols))
        sig = self._sigma_per_s()
        if self.edge is None:
            self._mid *= np.exp(z * sig * math.sqrt(dt_s) - 0.5 * sig * sig * dt_s)
        else:
            self._mid *= np.exp(self.edge.step(ts_ns, z, sig, dt_s))

    async def events(self) -> AsyncIterator[Event]:
        """Endless, time-ordered events from `start`. The engine paces and stops it."""
        s = self.settings
        yield FeedStatus(self.start_ns, FeedState.CONNECTED, "simulated market")
        now = self.start_ns
        heap: list[tuple[int, int, int]] = []  # (ts_ns, kind 0=book 1=trade 2=regime, symbol idx)
        for j in range(len(self.symbols)):
            heapq.heappush(heap, (now, 0, j))
            heapq.heappush(heap, (now + self._gap_ns(s.trades_per_s), 1, j))
        if s.regime_switch_per_hour > 0:
            heapq.heappush(heap, (now + self._gap_ns(s.regime_switch_per_hour / 3600.0), 2, -1))
        while not self._closed:
            ts, kind, j = heapq.heappop(heap)
            self._diffuse(ts, (ts - now) / NS_PER_S)
            now = ts
            if kind == 0:
                yield self._book(j, ts)
                heapq.heappush(heap, (ts + int(NS_PER_S / s.book_updates_per_s), 0, j))
            elif kind == 1:
                yield self._trade(j, ts)
                rate = s.trades_per_s * (VOLATILE_TRADE_BOOST if self.volatile else 1.0)
                heapq.heappush(heap, (ts + self._gap_ns(rate), 1, j))
            else:
                self.volatile = not self.volatile
                heapq.heappush(heap, (ts + self._gap_ns(s.regime_switch_per_hour / 3600.0), 2, -1))

    def _gap_ns(self, rate_per_s: float) -> int:
        return max(1, int(self._rng.exponential(1.0 / rate_per_s) * NS_PER_S))

    async def close(self) -> None:
        self._closed = True

    def stats(self) -> dict[str, dict[str, int]]:
        return {s: dict(c) for s, c in self._counts.items()}


def _tick(price: float) -> float:
    return round(round(price / TICK_SIZE) * TICK_SIZE, 2)


def venue_detail(venue: object) -> str:
    """What follows the venue badge wherever it is shown: a SIM market names its planted
    edge (a user must know what, if anything, there is to learn); other venues add nothing."""
    return venue.description if isinstance(venue, SimVenue) else ""


def sim_edge(venue: object) -> dict[str, object] | None:
    """The SIM market's planted edge for the session summary; None for recorded or live data."""
    return venue.edge_summary() if isinstance(venue, SimVenue) else None
