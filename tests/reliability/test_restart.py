"""After a hard stop, a restart recovers open positions and their signal links, on the
ledger's own clock, and only into a session of the same scope; the kill -9 harness, at
small scale, loses no acknowledged trade and leaves the checkpoints holding every trade the
ledger says was trained."""

import sys

import pytest

from engine.core.enums import Side
from engine.runtime.restore import restore_session
from engine.learning.reward import RewardCalculator
from engine.learning.tracker import SignalPositionTracker
from engine.trading.portfolio import Portfolio
from engine.views.projection import TradeLog
from storage.ledger import Ledger, Scope
from tests.helpers import sim_engine
from tests.planted_bars import bar_engine, flat_bars, write_klines
from tests.reliability import kill_harness


async def _crash_with_open_position(db: str):
    first = sim_engine(db)
    await first.start()
    await first.run(20)
    plan = await first.submit(Side.SELL, 0.25)
    # Simulated kill -9: no close(), no drain; just drop the connection as the OS would.
    await first.ledger.conn.close()
    return first, plan.after


async def test_open_position_survives_a_crash_and_can_be_closed_after_restart(tmp_path):
    db = str(tmp_path / "r.db")
    first, opened = await _crash_with_open_position(db)

    second = sim_engine(db)
    await second.start()
    pos = second.portfolio.position("ETH/USDT")
    assert pos is not None and pos.id == opened.id and pos.side is Side.SELL and pos.qty == 0.25
    assert second.portfolio.balance == first.portfolio.balance
    await second.run(10)
    # the SIM market continued after the ledger's last fill: the position has aged, never gone back
    assert second.first_event_ns > opened.opened_ns
    closed = (await second.close_position()).closed
    assert closed.id == opened.id
    assert closed.exit_ns - closed.entry_ns >= 10 * 10**9
    await second.close()


async def test_max_hold_fires_on_a_restored_position(tmp_path):
    db = str(tmp_path / "h.db")
    _, opened = await _crash_with_open_position(db)
    second = sim_engine(db, risk={"max_hold_s": 30.0})
    await second.start()
    await second.run(45)
    assert second.portfolio.position("ETH/USDT") is None  # closed by the rule within its 30 s
    [row] = await second.ledger.closed_trades()
    assert row["id"] == opened.id and row["close_source"] == "rule"
    assert 30 * 10**9 <= row["exit_ns"] - row["entry_ns"] <= 32 * 10**9
    await second.close()


async def test_a_sim_position_is_not_restored_into_a_replay_or_live_session(tmp_path):
    db = str(tmp_path / "s.db")
    first, opened = await _crash_with_open_position(db)
    bars = write_klines(tmp_path, "ethusdt", flat_bars(30))
    replay = bar_engine(tmp_path, [bars], storage={"db": db})
    await replay.start()
    assert replay.portfolio.positions == {} and replay.portfolio.balance == replay.settings.trading.quote_balance
    await replay.run()
    await replay.close()
    for scope in (Scope("live", "paper", "binance"), Scope("live", "live", "binance")):
        ledger = await Ledger.open(db, scope)
        portfolio = Portfolio(10_000.0)
        restored = await restore_session(ledger, quote_balance=10_000.0, portfolio=portfolio, trades=TradeLog(),
                                         calculator=RewardCalculator("comprehensive"), tracker=SignalPositionTracker(), schema="x")
        assert restored == 0 and portfolio.positions == {} and portfolio.balance == 10_000.0
        await ledger.close()
    back = sim_engine(db)  # and SIM still has it
    await back.start()
    assert back.portfolio.position("ETH/USDT").id == opened.id
    await back.close()


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_and_checkpoints_hold_every_training(tmp_path, monkeypatch):
    """Two kills (the 20-kill figures come from the same harness, docs/RELIABILITY.md); the
    waits are long enough that trades have closed on a loaded 2-core machine."""
    report = kill_harness.run(2, tmp_path / "ws", 30.0, 45.0, seed=3, log_dir=tmp_path / "logs", final_s=60.0)
    print(report, file=sys.stderr)
    assert report["final_rc"] == 0
    assert report["closed_trades"] > 0 and report["acknowledged_lost"] == 0 and report["pending"] == 0
    assert report["duplicate_trained"] == 0 and report["negative_hold"] == 0
    assert report["ledger_trained"] == report["checkpoint_trained"]
    assert sum(report["ledger_trained"].values()) > 0
