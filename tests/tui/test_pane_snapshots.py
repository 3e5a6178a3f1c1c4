"""Snapshots of the three learning panes (rewards, model loss, win rate) with fixed content.

The panes render EngineSnapshots; here the snapshot is built from a fixed table of closed
trades and a fixed loss history (test data, in the engine's own types), so the pictures are
deterministic and show what a trader sees once models have trained."""

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal

from engine.views.snapshot import EngineSnapshot, ModelView, TradeView
from engine.views.stats import TradeOutcome, win_stats
from tui.widgets.learning import LossPane, RewardPane, WinRatePane

T0 = 1_723_075_200_000_000_000
TRADES = [  # pnl, reward, source, lead model
    (0.84, 1.395, "auto", "cnn"), (-2.08, -3.471, "auto", "dqn"), (-1.11, -1.865, "manual", "cnn"),
    (0.24, 0.406, "auto", "cob_rl"), (-0.47, -0.987, "rule", "cnn"), (1.90, 3.210, "manual", "dqn"),
]


def snapshot() -> EngineSnapshot:
    trades, outcomes = [], []
    for i, (pnl, reward, source, lead) in enumerate(TRADES):
        comps = {"pnl": pnl / 13.0, "time": -0.001 * i, "risk": pnl / 13.0, "consistency": 0.5 * reward / 3,
                 "streak": 0.02 if pnl > 0 else -0.05, "final": reward}
        models = {"cnn": 0.2, "dqn": 0.2, "cob_rl": 0.2} | {lead: 0.6}
        exit_ns = T0 + (i + 1) * 90 * 10**9
        trades.append(TradeView(f"P{i}", "ETH/USDT", "buy" if i % 2 else "sell", 0.5, 2600.0, 2600.0 + pnl * 2,
                                pnl, 0.52, 60.0, source, reward, comps, models))
        outcomes.append(TradeOutcome(pnl, reward, source, "manual" if source == "manual" else "auto", lead, exit_ns))
    trades.reverse()
    losses = {
        "cnn": tuple((s, 1.1 * 0.97 ** s) for s in range(1, 61)),
        "dqn": tuple((s, 0.8 * 0.95 ** s + 0.05) for s in range(1, 41)),
        "cob_rl": tuple((s, 0.3 * 0.9 ** s) for s in range(1, 31)),
    }
    models = tuple(ModelView(n, len(h), h[-1][1], h, 2.5, "cpu") for n, h in losses.items())
    return EngineSnapshot(
        venue="sim", venue_label="SIM", symbols=("ETH/USDT", "BTC/USDT"), traded="ETH/USDT", event_ns=T0 + 600 * 10**9,
        feed_state="connected", feed_detail="", paused=False, speed="1", events=1000, rejected=0, events_per_s=None,
        db_path=":memory:", equity=10_000.0, order_qty=0.5, markets=(), positions=(), trades=tuple(trades),
        stats=win_stats(outcomes, 600 * 10**9), auto=True, auto_available=True,
        models_status="models ready on cpu", models=models,
    )


class PanesApp(App[None]):
    CSS = "Horizontal > * { width: 1fr; border: round $primary; height: 1fr; }"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield RewardPane()
            yield LossPane()
            yield WinRatePane()

    def on_mount(self) -> None:
        snap = snapshot()
        for pane in (RewardPane, LossPane, WinRatePane):
            self.query_one(pane).update_from(snap)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_learning_panes(snap_compare, size):
    assert snap_compare(PanesApp(), terminal_size=size)


def test_panes_say_why_they_are_empty_instead_of_showing_zeros():
    empty = snapshot()
    from dataclasses import replace

    empty = replace(empty, trades=(), models=(), stats=win_stats([], None), models_status="models disabled in config")

    async def run():
        app = PanesApp()
        async with app.run_test() as pilot:
            for pane in (RewardPane, LossPane, WinRatePane):
                app.query_one(pane).update_from(empty)
            await pilot.pause()
            assert "no closed trades yet" in str(app.query_one(RewardPane).render())
            assert "no closed trades yet" in str(app.query_one(WinRatePane).render())
            assert "models disabled" in str(app.query_one("#loss-status").render())
            assert not app.query_one("#loss-plot").display

    import asyncio

    asyncio.run(run())
