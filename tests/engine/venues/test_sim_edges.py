"""The SIM market's planted edges, measured on the events the venue generates.

A user switches SIM to an edge to watch models learn something real; these tests prove the
stated relation is in the data at the stated horizon, that `none` has nothing in it, and that
the default edge pays more than its trading costs. Deterministic: fixed seed, event time.

Event rates are lowered (a book every 2 s, few trades) so a simulated day takes seconds: the
price process is diffused exactly over each gap between events, so its statistics do not
depend on the rates; prices are read from the touch of the last book at each second.
"""

from __future__ import annotations

import asyncio
import math
from functools import cache

import numpy as np
import pytest

from engine.config import ConfigError
from engine.core.events import BookEvent
from engine.venues.sim import SimVenue, sim_edge, venue_detail
from tests.helpers import sim_settings

FAST = {"book_updates_per_s": 0.5, "trades_per_s": 0.05}
DAY_S = 86_400


@cache
def touch(edge: str, seconds: int, seed: int = 1) -> tuple[tuple[str, ...], np.ndarray]:
    """Per second and symbol: best bid, best ask and touch imbalance (bid-ask)/(bid+ask) of
    the last book at or before that second."""
    s = sim_settings(sim={"seed": seed, "edge": edge, **FAST})
    venue = SimVenue(s.sim, s.venue.symbols)
    col = {sym: j for j, sym in enumerate(s.venue.symbols)}
    out = np.full((seconds, len(col), 3), np.nan)
    last = np.full((len(col), 3), np.nan)

    async def go() -> None:
        sec = 0
        async for e in venue.events():
            while sec < seconds and venue.start_ns + sec * 10**9 < e.ts_ns:
                out[sec] = last
                sec += 1
            if sec >= seconds:
                return
            if isinstance(e, BookEvent):
                qb, qa = e.bids[0, 1], e.asks[0, 1]
                last[col[e.symbol]] = (e.bids[0, 0], e.asks[0, 0], (qb - qa) / (qb + qa))

    asyncio.run(go())
    return s.venue.symbols, out


def windows(edge: str, seconds: int, horizon_s: int):
    """Non-overlapping windows: log-mid return over the last and the next `horizon_s`, and
    the touch imbalance at the window's start, each (windows, symbols)."""
    symbols, x = touch(edge, seconds)
    log_mid = np.log((x[:, :, 0] + x[:, :, 1]) / 2)
    t = np.arange(2 * horizon_s, seconds - horizon_s, horizon_s)  # the first books are a few s in
    return symbols, log_mid[t] - log_mid[t - horizon_s], log_mid[t + horizon_s] - log_mid[t], x[t, :, 2]


def corr_and_se(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Pearson correlation and its standard error under no relation, robust to the regime
    switches (volatile windows weigh more): sqrt(E[a²b²] / (E[a²]·E[b²]) / n)."""
    a, b = a - a.mean(), b - b.mean()
    r = float(a @ b / math.sqrt((a @ a) * (b @ b)))
    se = math.sqrt(np.mean(a * a * b * b) / (np.mean(a * a) * np.mean(b * b)) / len(a))
    return r, se


def lead_lag_stat(edge: str, seconds: int) -> tuple[float, float]:
    lag = int(sim_settings().sim.lead_lag_s)
    symbols, past, nxt, _ = windows(edge, seconds, lag)
    return corr_and_se(past[:, symbols.index("BTC/USDT")], nxt[:, symbols.index("ETH/USDT")])


def momentum_stats(edge: str, seconds: int) -> list[tuple[float, float]]:
    symbols, past, nxt, _ = windows(edge, seconds, int(sim_settings().sim.momentum_s))
    return [corr_and_se(past[:, j], nxt[:, j]) for j in range(len(symbols))]


def imbalance_agreement(edge: str, seconds: int) -> list[tuple[float, float]]:
    """Per symbol: how often the touch imbalance's sign is the next move's sign, and its
    standard error under no relation (0.5 / sqrt(n))."""
    symbols, _, nxt, imb = windows(edge, seconds, int(sim_settings().sim.imbalance_s))
    return [(float(np.mean(np.sign(imb[:, j]) == np.sign(nxt[:, j]))), 0.5 / math.sqrt(len(nxt)))
            for j in range(len(symbols))]


def follow_btc_net_bp(edge: str) -> tuple[int, float, float]:
    """The rule a user could write from the stated default edge, over a simulated day: every
    lag, if strength × BTC's move over the last lag beats the costs (2 taker fees plus ETH's
    spread), trade ETH that way at the touch and leave it at the touch one lag later.

    Returns trades, mean net bp per trade after fees and spread, and its standard error."""
    s = sim_settings()
    lag, strength, fee_bp = int(s.sim.lead_lag_s), s.sim.edge_strength, s.trading.taker_fee * 1e4
    symbols, x = touch(edge, DAY_S)
    btc, eth = symbols.index("BTC/USDT"), symbols.index("ETH/USDT")
    bid, ask = x[:, eth, 0], x[:, eth, 1]
    t = np.arange(2 * lag, DAY_S - lag, lag)
    btc_mid = np.log((x[:, btc, 0] + x[:, btc, 1]) / 2)
    move_bp = (btc_mid[t] - btc_mid[t - lag]) * 1e4
    spread_bp = (ask[t] - bid[t]) / ((ask[t] + bid[t]) / 2) * 1e4
    go = strength * np.abs(move_bp) > 2 * fee_bp + spread_bp
    t, side = t[go], np.sign(move_bp[go])
    gross = np.where(side > 0, bid[t + lag] / ask[t] - 1, bid[t] / ask[t + lag] - 1) * 1e4
    net = gross - 2 * fee_bp
    return len(net), float(net.mean()), float(net.std(ddof=1) / math.sqrt(len(net)))


def test_lead_lag_btc_return_predicts_eth_next_return_at_the_stated_lag():
    r, se = lead_lag_stat("lead_lag", DAY_S)
    strength = sim_settings().sim.edge_strength
    assert r > strength - 0.15 and r > 8 * se, (r, se)


def test_momentum_last_return_predicts_the_next_at_the_stated_horizon():
    strength = sim_settings().sim.edge_strength
    for r, se in momentum_stats("momentum", DAY_S):
        assert r > strength - 0.15 and r > 8 * se, (r, se)


def test_imbalance_at_the_touch_predicts_the_next_move():
    """The imbalance is a monotone squash of the queued flow, whose correlation with the next
    move is the strength s: its sign agrees with the move's 1/2 + asin(s)/pi of the time."""
    expected = 0.5 + math.asin(sim_settings().sim.edge_strength) / math.pi
    for agree, se in imbalance_agreement("imbalance", DAY_S):
        assert agree > expected - 0.05 and agree > 0.5 + 8 * se, (agree, expected, se)


def test_no_edge_has_none_of_these_relations():
    r, se = lead_lag_stat("none", DAY_S)
    assert abs(r) < 3 * se, (r, se)
    for r, se in momentum_stats("none", DAY_S):
        assert abs(r) < 3 * se, (r, se)
    for agree, se in imbalance_agreement("none", DAY_S):
        assert abs(agree - 0.5) < 3 * se, (agree, se)


def test_following_btc_pays_after_costs_with_the_default_edge_and_not_without():
    assert sim_settings().sim.edge == "lead_lag", "the default edge is the one a user is told about"
    n, net, se = follow_btc_net_bp("lead_lag")
    assert n > 200 and net > 3 * se > 0, (n, net, se)
    n, net, se = follow_btc_net_bp("none")
    assert n > 200 and net <= 0, (n, net, se)


def events(edge: str, n: int, seed: int = 7) -> list[tuple]:
    s = sim_settings(sim={"seed": seed, "edge": edge})
    venue = SimVenue(s.sim, s.venue.symbols)

    async def go() -> list[tuple]:
        out: list[tuple] = []
        async for e in venue.events():
            if isinstance(e, BookEvent):
                out.append((e.ts_ns, e.symbol, e.bids.tobytes(), e.asks.tobytes()))
            else:
                out.append((repr(e),))
            if len(out) >= n:
                return out
        return out

    return asyncio.run(go())


@pytest.mark.parametrize("edge", ["none", "lead_lag", "momentum", "imbalance"])
def test_same_seed_same_market_with_every_edge(edge):
    a = events(edge, 4000)
    assert a == events(edge, 4000)
    assert a != events(edge, 4000, seed=8)


def test_an_edge_adds_its_relation_to_the_same_noise():
    """Switching the edge changes prices, not the noise under them: BTC, which leads, is the
    same market event for event, so a user comparing edges compares like with like."""
    plain, led = events("none", 4000), events("lead_lag", 4000)
    btc = [i for i, e in enumerate(plain) if "BTC/USDT" in str(e[:2])]
    assert btc and [plain[i] for i in btc] == [led[i] for i in btc]
    assert plain != led


def test_the_edge_is_named_with_its_signal_and_strength():
    s = sim_settings()
    venue = SimVenue(s.sim, s.venue.symbols)
    assert venue.label == "SIM" and venue_detail(venue) == "edge: lead-lag"
    stated = sim_edge(venue)
    assert stated["edge"] == "lead_lag" and stated["strength"] == s.sim.edge_strength
    assert stated["horizon_s"] == s.sim.lead_lag_s and "BTC/USDT" in stated["signal"] and "ETH/USDT" in stated["predicts"]
    plain = sim_settings(sim={"edge": "none"})
    assert sim_edge(SimVenue(plain.sim, plain.venue.symbols))["edge"] == "none"
    assert venue_detail(SimVenue(plain.sim, plain.venue.symbols)) == "edge: none"
    assert sim_edge(object()) is None and venue_detail(object()) == ""


def test_lead_lag_without_btc_is_refused_naming_the_key():
    s = sim_settings(venue={"symbols": ["ETH/USDT", "SOL/USDT"], "traded": "ETH/USDT"},
                     sim={"prices": {"ETH/USDT": 2600.0, "SOL/USDT": 150.0}})
    with pytest.raises(ConfigError, match="sim.edge"):
        SimVenue(s.sim, s.venue.symbols)
    with pytest.raises(ConfigError, match="sim.edge"):
        sim_settings(sim={"edge": "mean_reversion"})
