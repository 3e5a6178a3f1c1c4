"""Snapshots of the panes and screens with fixed content, grouped by feature (learning, model
pane, chart and depth, equity, inspector, evaluation), at 80x24 and 120x40.

The panes render EngineSnapshots; here the snapshot is built from a fixed table of closed
trades, a fixed loss history, a fixed last decision and fixed candles and book (test data,
in the engine's own types), so the pictures are deterministic and show what a trader sees
once models have trained."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import numpy as np
import pytest
from textual.app import App, ComposeResult
from textual.containers import Grid

from engine.views.desk import DecisionView, DeskView, ModelCall, RiskLevels
from engine.views.evaluation_file import latest_evaluation_path
from engine.views.snapshot import EngineSnapshot, MarketView, ModelView, PositionView, TradeView
from engine.views.stats import TradeOutcome, win_stats
from engine.views.trade_detail import TradeDetail
from tui.screens.evaluation import EvaluationScreen
from tui.screens.inspector import TradeInspector
from tui.widgets.chart import CandleChart
from tui.widgets.depth import DepthLadder
from tui.widgets.equity import EquityPane
from tui.widgets.learning import LossPane, RewardPane, WinRatePane
from tui.widgets.models import ModelPane

SIZES = [(80, 24), (120, 40)]
IDS = [f"{w}x{h}" for w, h in SIZES]
T0 = 1_723_075_200_000_000_000
TRADES = [  # pnl, reward, close source, open source, lead model
    (0.84, 1.395, "auto", "auto", "cnn"), (-2.08, -3.471, "rule", "auto", "dqn"), (-1.11, -1.865, "manual", "manual", "cnn"),
    (0.24, 0.406, "auto", "auto", "cob_rl"), (-0.47, -0.987, "rule", "auto", "cnn"), (1.90, 3.210, "manual", "manual", "dqn"),
]


def candles(n: int = 60) -> np.ndarray:
    rng = np.random.default_rng(7)
    close = 2600 + np.cumsum(rng.normal(0, 0.8, n))
    open_ = np.concatenate([[2600.0], close[:-1]])
    high = np.maximum(open_, close) + rng.uniform(0.1, 0.6, n)
    low = np.minimum(open_, close) - rng.uniform(0.1, 0.6, n)
    t = (T0 / 1e9) + 60.0 * np.arange(n)
    return np.column_stack([t, open_, high, low, close, rng.uniform(1, 9, n)])


def book(mid: float = 2601.0) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.array([1.2, 3.4, 2.2, 5.9, 0.8, 4.1, 2.7, 6.3, 1.9, 3.3])
    bids = np.column_stack([mid - 0.13 * (np.arange(10) + 1), sizes])
    asks = np.column_stack([mid + 0.13 * (np.arange(10) + 1), sizes[::-1] * 0.8])
    return bids, asks


def decision(**over) -> DecisionView:
    calls = (ModelCall("cnn", "buy 0.75  P(up) 0.61 P(down) 0.21 (5m/15m)", 0.75, 0.43, 61),
             ModelCall("dqn", "buy 0.61  Q(buy) +0.057 Q(sell) -0.378", 0.61, 0.40, 41),
             ModelCall("cob_rl", "sell 0.59  logits -0.25 +0.11 · value +0.122", 0.41, 0.17, 31))
    base = dict(ts_ns=T0 + 3540 * 10**9, action="buy", confidence=0.63, threshold=0.7, calls=calls, auto=True,
                blocker="confidence 0.63 < threshold 0.70")
    return DecisionView(**(base | over))


def snapshot(**desk_over) -> EngineSnapshot:
    trades, outcomes = [], []
    for i, (pnl, reward, source, opener, lead) in enumerate(TRADES):
        comps = {"pnl": pnl / 13.0, "base": pnl / 1.3, "time": -0.001 * i, "risk": pnl / 13.0,
                 "consistency": 0.5 * reward / 3, "streak": 0.02 if pnl > 0 else -0.05, "raw": reward, "final": reward}
        models = {"cnn": 0.2, "dqn": 0.2, "cob_rl": 0.2} | {lead: 0.6}
        entry_ns = T0 + (i * 9 + 3) * 60 * 10**9
        exit_ns = entry_ns + 4 * 60 * 10**9
        trades.append(TradeView(f"P{i}", "ETH/USDT", "buy" if i % 2 else "sell", 0.5, 2600.0, 2600.0 + pnl * 2,
                                pnl, 0.52, 240.0, source, reward, comps, models, opener, entry_ns, exit_ns))
        outcomes.append(TradeOutcome(pnl, reward, source, opener, lead, exit_ns))
    trades.reverse()
    losses = {
        "cnn": tuple((s, 1.1 * 0.97 ** s + (6.0 if s == 20 else 0.0)) for s in range(1, 61)),
        "dqn": tuple((s, 0.8 * 0.95 ** s + 0.05) for s in range(1, 41)),
        "cob_rl": tuple((s, -0.02 - 0.001 * s) for s in range(1, 31)),
    }
    models = tuple(ModelView(n, len(h), h[-1][1], h, 2.5, "cpu") for n, h in losses.items())
    bids, asks = book()
    position = PositionView("P9", "ETH/USDT", "buy", 0.5, 2604.0, 2601.0, -1.5, 300.0, "auto")
    desk = DeskView(decision=decision(), candles={"1m": candles()}, bids=bids, asks=asks,
                    risk={"P9": RiskLevels(2604.0 * 0.995, 2604.0 * 1.01, 900.0)}, start_equity=10_000.0,
                    fees_paid=3.64, taker_fee=0.0002, speed=1.0, session_s=3600.0, first_event_ns=T0)
    desk = replace(desk, **desk_over)
    market = MarketView("ETH/USDT", 2601.0, bids[0, 0], asks[0, 0], 0.04, (), 100, 100)
    return EngineSnapshot(
        venue="sim", venue_label="SIM", symbols=("ETH/USDT", "BTC/USDT"), traded="ETH/USDT",
        event_ns=T0 + 3600 * 10**9, feed_state="connected", feed_detail="", paused=False, speed="1", events=1000,
        rejected=0, events_per_s=None, db_path=":memory:", equity=9_997.82, order_qty=0.5, markets=(market,),
        positions=(position,), trades=tuple(trades), stats=win_stats(outcomes, 3600 * 10**9), auto=True,
        auto_available=True, models_status="models ready on cpu", models=models, desk=desk,
    )


APP_CSS = "../../tui/tickdesk.tcss"  # the app's own stylesheet, relative to this file


class PanesApp(App[None]):
    """Fixed panes in a grid, each fed the same fixed snapshot."""

    CSS_PATH = APP_CSS
    CSS = "Grid { grid-size: 2; } Grid > * { border: round $primary; height: 1fr; }"

    def __init__(self, panes: tuple[type, ...], snap: EngineSnapshot) -> None:
        super().__init__()
        self.panes, self.snap = panes, snap

    def compose(self) -> ComposeResult:
        with Grid():
            for pane in self.panes:
                yield pane()

    def on_mount(self) -> None:
        self.call_after_refresh(self.render_panes)

    def render_panes(self) -> None:
        for pane in self.panes:
            self.query_one(pane).update_from(self.snap)


class ScreenApp(App[None]):
    CSS_PATH = APP_CSS

    def __init__(self, screen) -> None:
        super().__init__()
        self._modal = screen

    def on_mount(self) -> None:
        self.push_screen(self._modal)


async def rendered(pilot) -> None:
    await pilot.pause()
    await pilot.pause()


class TestLearningPanes:
    @pytest.mark.parametrize("size", SIZES, ids=IDS)
    def test_rewards_loss_and_win_rate(self, snap_compare, size):
        app = PanesApp((RewardPane, LossPane, WinRatePane), snapshot())
        assert snap_compare(app, terminal_size=size, run_before=rendered)

    def test_panes_say_why_they_are_empty_instead_of_showing_zeros(self):
        empty = replace(snapshot(), trades=(), models=(), stats=win_stats([], None),
                        models_status="models disabled in config")

        async def run():
            app = PanesApp((RewardPane, LossPane, WinRatePane), empty)
            async with app.run_test() as pilot:
                await rendered(pilot)
                assert "no closed trades yet" in str(app.query_one(RewardPane).render())
                assert "no closed trades yet" in str(app.query_one(WinRatePane).render())
                assert "models disabled" in str(app.query_one("#loss-status").render())
                assert not app.query_one("#loss-plot").display

        asyncio.run(run())

    def test_every_reward_component_is_shown_at_120_columns(self):
        async def run():
            app = PanesApp((RewardPane, WinRatePane), snapshot())
            async with app.run_test(size=(120, 40)) as pilot:
                await rendered(pilot)
                shown = str(app.query_one(RewardPane).render())
                assert "…" not in shown
                for label in ("final", "pnl%", "base", "time", "risk", "cons", "strk"):
                    assert shown.count(label) == len(TRADES), label
                assert "A→R" in shown and "M→M" in shown

        asyncio.run(run())


class TestModelPane:
    @pytest.mark.parametrize("size", SIZES, ids=IDS)
    def test_calls_confidence_against_threshold_and_why_not_trading(self, snap_compare, size):
        assert snap_compare(PanesApp((ModelPane, LossPane), snapshot()), terminal_size=size, run_before=rendered)

    def test_policy_fields_are_shown_only_when_the_signal_has_them(self):
        async def run():
            for desk, expected in ((decision(), False), (decision(p_win=0.58, policy="explore", propensity=0.1), True)):
                app = PanesApp((ModelPane,), snapshot(decision=desk))
                async with app.run_test(size=(120, 40)) as pilot:
                    await rendered(pilot)
                    shown = str(app.query_one(ModelPane).render())
                    assert ("p_win 0.58 · policy explore · propensity 0.10" in shown) is expected
                    assert "why not trading: confidence 0.63 < threshold 0.70" in shown

        asyncio.run(run())


class TestChartAndDepth:
    @pytest.mark.parametrize("size", SIZES, ids=IDS)
    def test_candles_with_levels_and_fills_beside_the_ladder(self, snap_compare, size):
        assert snap_compare(PanesApp((CandleChart, DepthLadder), snapshot()), terminal_size=size, run_before=rendered)


class TestEquity:
    @pytest.mark.parametrize("size", SIZES, ids=IDS)
    def test_equity_curve_and_figures(self, snap_compare, size):
        assert snap_compare(PanesApp((EquityPane,), snapshot()), terminal_size=size, run_before=rendered)


def detail() -> TradeDetail:
    trade = {"id": "P1723075380000-1-abc123", "symbol": "ETH/USDT", "side": "buy", "qty": 0.5, "entry_price": 2600.0,
             "exit_price": 2598.0, "entry_ns": T0 + 180 * 10**9, "exit_ns": T0 + 420 * 10**9, "gross_pnl": -1.0,
             "fees": 0.52, "pnl": -1.52, "source": "rule", "open_source": "auto", "close_source": "rule",
             "venue": "sim", "signal_id": "S1", "reward": -1.87, "reward_preset": "comprehensive",
             "reward_components": {"pnl": -0.117, "base": -1.17, "time": 0.0, "risk": -0.117, "consistency": -0.4,
                                   "streak": -0.05, "raw": -1.87, "final": -1.87}}
    signal = {"id": "S1", "kind": "auto", "action": "buy", "confidence": 0.74,
              "contributions": {"cnn": 0.45, "dqn": 0.35, "cob_rl": 0.2}, "model_versions": {"cnn": 12, "dqn": 3},
              "outputs": {"cnn": {"horizon": "1m", "p_down": 0.15, "p_flat": 0.25, "p_up": 0.6}, "dqn": {"q": [0.2, -0.1]},
                          "cob_rl": {"logits": [0.1, -0.1], "value": 0.05}, "policy": "greedy"}}
    training = [{"model": "cnn", "kind": "trade_outcome", "weight": 0.45, "loss": 0.61, "status": "trained",
                 "device": "cpu", "model_version": 13, "ts_ns": T0},
                {"model": "dqn", "kind": "trade_outcome", "weight": 0.35, "loss": None, "status": "warming_up",
                 "device": "cpu", "model_version": 3, "ts_ns": T0}]
    fills = [{"ts_ns": T0 + 180 * 10**9, "side": "buy", "qty": 0.5, "price": 2600.0, "fee": 0.26, "slippage": 0.13,
              "source": "auto", "fill_model": "book_walk"},
             {"ts_ns": T0 + 420 * 10**9, "side": "sell", "qty": 0.5, "price": 2598.0, "fee": 0.26, "slippage": 0.13,
              "source": "rule", "fill_model": "book_walk"}]
    return TradeDetail(trade, signal, training, fills)


class TestInspector:
    @pytest.mark.parametrize("size", SIZES, ids=IDS)
    def test_reward_breakdown_signal_training_and_fills(self, snap_compare, size):
        assert snap_compare(ScreenApp(TradeInspector(detail())), terminal_size=size, run_before=rendered)


class TestEvaluation:
    @pytest.mark.parametrize("size", SIZES, ids=IDS)
    def test_verdict_and_folds_against_the_random_band(self, snap_compare, size, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        path = latest_evaluation_path("ledger.db")
        path.parent.mkdir()
        path.write_text(json.dumps({
            "verdict": "no evidence of an edge: every fold inside the random band",
            "folds": [{"fold": i, "net_bp": v, "random_band_bp": [-3.1, 2.9], "trades": 40 + i}
                      for i, v in enumerate((1.2, -0.4, 2.2))],
            "pooled": {"net_bp": 1.0, "trades": 123}, "trials": 4, "fill_model": "book_walk", "seeds": [1, 2, 3],
            "spec_hash": "9f2c", "wall_s": 41.5}))
        assert snap_compare(ScreenApp(EvaluationScreen("ledger.db")), terminal_size=size, run_before=rendered)

    def test_without_a_file_it_says_how_to_produce_one(self, snap_compare, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        assert snap_compare(ScreenApp(EvaluationScreen("ledger.db")), terminal_size=(80, 24), run_before=rendered)
