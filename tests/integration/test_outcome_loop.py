"""The heart of the product: every closed trade gets a reward and trains exactly the models
that contributed to it, and nothing trains on a trade without a close."""

import json

import aiosqlite
import pytest

from engine.config import load_settings
from engine.core.enums import Side
from engine.runtime.headless import run_headless
from engine.runtime.wiring import create_engine
from tests.helpers import run_round_trip

SPOT = ["spot_ethusdt_20240808.gz", "spot_ethusdt_20240809.gz", "spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"]


def loop_settings(tmp_path, **venue):
    # Untrained models are rarely 70% sure; 0.5 lets them trade so the loop is exercised.
    return load_settings(use_user_config=False, overrides={
        "venue": venue or {"kind": "sim"},
        "storage": {"db": str(tmp_path / "loop.db")},
        "engine": {"speed": "max"},
        "models": {"checkpoint_dir": str(tmp_path / "ck"), "confidence_threshold": 0.5, "auto_trade": True,
                   "device": "cpu"},
        "risk": {"max_hold_s": 90.0},
    })


async def check_ledger(db, summary):
    async with aiosqlite.connect(db) as conn:
        conn.row_factory = aiosqlite.Row
        trades = [dict(r) for r in await (await conn.execute("SELECT * FROM closed_trades")).fetchall()]
        assert trades and len(trades) == summary["trades_closed"]
        per_model = {"cnn": 0, "dqn": 0, "cob_rl": 0}
        for t in trades:
            link = await (await conn.execute("SELECT * FROM signal_links WHERE position_id = ?", (t["id"],))).fetchone()
            assert link is not None, "every closed trade is linked to the signal that opened it"
            signal = await (await conn.execute("SELECT * FROM signals WHERE id = ?", (t["signal_id"],))).fetchone()
            assert signal["kind"] == ("auto" if t["open_source"] in ("auto", "explore") else "manual")
            reward = await (await conn.execute("SELECT * FROM rewards WHERE trade_id = ?", (t["id"],))).fetchone()
            comps = json.loads(reward["components"])
            assert {"pnl", "time", "risk", "consistency", "streak", "final"} <= comps.keys()
            assert comps["final"] == reward["final"]
            contributed = {m for m, w in json.loads(link["models"]).items() if w > 0}
            trained = [r["model"] for r in await (await conn.execute(
                "SELECT model FROM training_events WHERE trade_id = ? AND kind = 'trade_outcome'", (t["id"],))).fetchall()]
            assert sorted(trained) == sorted(contributed), "exactly the contributing models, once each"
            for m in contributed:
                per_model[m] += 1
        orphans = await (await conn.execute(
            "SELECT COUNT(*) FROM training_events WHERE kind = 'trade_outcome'"
            " AND (trade_id IS NULL OR trade_id NOT IN (SELECT id FROM closed_trades))")).fetchone()
        assert orphans[0] == 0, "no outcome training without a close"
        pending = await (await conn.execute("SELECT COUNT(*) FROM pending_training")).fetchone()
        assert pending[0] == 0
    assert summary["training_events"] == per_model


async def test_auto_trading_on_sim_trains_every_closed_trade(tmp_path):
    settings = loop_settings(tmp_path)
    engine = create_engine(settings)
    assert engine.auto_available, engine.models_status
    summary = await run_headless(engine, 900, tmp_path / "s.json", progress=open("/dev/null", "w"))
    assert summary["trades_closed"] > 0 and summary["signals"] >= 890
    assert summary["avg_reward"] is not None and summary["win_rate"] is not None
    # the learning metrics: training frequency = close frequency, loss trend, win rate over time
    assert max(summary["training_events"].values()) == summary["trades_closed"]
    assert summary["models"]["cnn"]["steps"] > 0 and summary["models"]["cnn"]["last_mean"] is not None
    assert summary["trades_per_hour"] > 0
    await check_ledger(settings.db_path, summary)

    # A restart puts the DQN's stored transitions back into its replay memory.
    async with aiosqlite.connect(settings.db_path) as conn:
        stored = (await (await conn.execute(
            "SELECT COUNT(*) FROM training_events WHERE model = 'dqn' AND kind = 'trade_outcome'"
            " AND status IN ('trained', 'warming_up')")).fetchone())[0]
    assert stored == summary["training_events"]["dqn"] > 0
    again = create_engine(settings)
    try:
        await again.start()
        await again.drain()
        memory = again.trainer.dqn.memory
        assert len(memory) == stored
        ledger_rewards = [r["reward"] for r in await again.ledger.closed_trades() if "dqn" in r["trained"]]
        assert sorted(memory.rewards[:stored].tolist()) == pytest.approx(sorted(ledger_rewards), rel=1e-6)
    finally:
        await again.close()


async def test_auto_trading_on_a_recorded_binance_window(tmp_path, shared_data):
    settings = loop_settings(tmp_path, kind="replay")
    data = [shared_data / "binance_ws_hftbacktest" / f for f in SPOT]
    engine = create_engine(settings, data=data)
    summary = await run_headless(engine, None, None, progress=open("/dev/null", "w"))
    assert summary["venue"] == "replay" and summary["trades_closed"] > 0
    await check_ledger(settings.db_path, summary)


async def test_a_crash_between_close_and_training_trains_once_after_restart(tmp_path):
    settings = loop_settings(tmp_path)
    first = create_engine(settings, wall=lambda: 0.0)
    first.auto = False  # one manual trade only
    try:
        await first.start()
        await first.outcomes.stop()  # the process dies before outcome processing runs
        await first.run(30)
        await first.submit(Side.BUY)
        await first.run(30)
        closed = (await first.close_position()).closed
        assert closed is not None
    finally:
        first.trainer.close()
        await first.ledger.conn.close()  # kill -9: no drain, no orderly close

    second = create_engine(settings, wall=lambda: 0.0)
    second.auto = False
    try:
        await second.start()  # recovers the pending trade
        await second.drain()
        rows = await second.ledger.closed_trades()
        assert [r["id"] for r in rows] == [closed.id]
        assert rows[0]["reward"] is not None
        assert sorted(rows[0]["trained"]) == sorted(m for m, w in rows[0]["models"].items() if w > 0)
    finally:
        await second.close()

    third = create_engine(settings, wall=lambda: 0.0)
    try:
        await third.start()
        await third.drain()
        assert await third.ledger.pending_training() == []
    finally:
        await third.close()
    async with aiosqlite.connect(settings.db_path) as conn:
        n = await (await conn.execute("SELECT model, COUNT(*) FROM training_events WHERE trade_id = ? GROUP BY model",
                                      (closed.id,))).fetchall()
    assert n and all(count == 1 for _, count in n), "trained exactly once"


async def test_without_models_manual_trades_still_get_rewards_and_no_training(tmp_path):
    settings = load_settings(use_user_config=False, overrides={
        "storage": {"db": str(tmp_path / "nm.db")}, "engine": {"speed": "max"}, "models": {"enabled": False}})
    engine = create_engine(settings)
    assert not engine.auto_available and "disabled" in engine.models_status
    closed = await run_round_trip(engine, Side.SELL, before_s=20, keep_open=True)
    try:
        [row] = await engine.ledger.closed_trades()
        assert row["id"] == closed.id
        assert row["reward"] is not None and row["trained"] == [] and row["signal_id"].startswith("M")
        signal = await engine.ledger.get_signal(row["signal_id"])
        assert "disabled" in signal["outputs"]["models"]
    finally:
        await engine.close()
