import sqlite3

import pytest

from engine.core.enums import Side, Source
from engine.decision.signal import Signal
from engine.trading.portfolio import Fill, Portfolio
from storage.db import SchemaTooNew, open_db
from storage.ledger import Ledger
from storage.schema import MIGRATIONS


async def test_fill_close_round_trip_and_pending_training(tmp_path):
    ledger = await Ledger.open(tmp_path / "l.db")
    await ledger.load_account(1000.0)
    p = Portfolio(1000.0)
    await ledger.record_signals([Signal("S1", 1, "ETH/USDT", Source.MANUAL, Side.BUY, "sim",
                                        contributions={"cnn": 0.5, "dqn": 0.5})])
    plan = p.plan_fill(Fill(1, "ETH/USDT", Side.BUY, 1.0, 100.0, 0.02, 0.0, "manual", "S1", fill_model="book_walk"))
    await ledger.record_fill(plan, "sim", ("S1", {"cnn": 0.5, "dqn": 0.5}))
    p.apply(plan)
    opened = await ledger.open_positions()
    assert [r["id"] for r in opened] == [plan.after.id]
    links = await ledger.signal_links([plan.after.id])
    assert links[plan.after.id]["signal_id"] == "S1"

    close = p.plan_fill(Fill(2_000_000_000, "ETH/USDT", Side.SELL, 1.0, 105.0, 0.021, 0.0, "manual", fill_model="bar_open+half_spread"))
    await ledger.record_fill(close, "sim")
    assert await ledger.open_positions() == []
    [row] = await ledger.closed_trades()
    assert row["pnl"] == pytest.approx(5.0 - 0.041)
    assert row["models"] == {"cnn": 0.5, "dqn": 0.5} and row["reward"] is None and row["trained"] == []
    # each price says how it was obtained: the opening fill's model, the closing fill's model
    assert (row["entry_fill_model"], row["exit_fill_model"]) == ("book_walk", "bar_open+half_spread")
    assert await ledger.pending_training() == [row["id"]]

    await ledger.record_reward(row["id"], "comprehensive", 1.5, {"pnl": 1.0, "final": 1.5}, 3)
    await ledger.complete_training(row["id"], [{"model": "cnn", "weight": 0.5, "loss": 0.1, "status": "trained"}], 4)
    [row] = await ledger.closed_trades()
    assert row["reward"] == 1.5 and row["reward_components"]["final"] == 1.5 and row["trained"] == ["cnn"]
    assert await ledger.pending_training() == []
    await ledger.close()


async def test_migrations_run_once_and_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "m.db"
    conn = await open_db(path)
    await conn.close()
    conn = await open_db(path)  # reopening runs nothing twice
    async with conn.execute("PRAGMA user_version") as cur:
        assert (await cur.fetchone())[0] == len(MIGRATIONS)
    async with conn.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    await conn.close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    raw.close()
    with pytest.raises(SchemaTooNew):
        await open_db(path)


async def test_a_failed_write_leaves_nothing_behind(tmp_path):
    ledger = await Ledger.open(tmp_path / "f.db")
    await ledger.load_account(1000.0)
    p = Portfolio(1000.0)
    plan = p.plan_fill(Fill(1, "ETH/USDT", Side.BUY, 1.0, 100.0, 0.02, 0.0, "manual", "missing-signal", fill_model="book_walk"))
    with pytest.raises(sqlite3.IntegrityError):  # the link names a signal that does not exist
        await ledger.record_fill(plan, "sim", ("missing-signal", {}))
    assert await ledger.open_positions() == []
    assert await ledger.load_account(1000.0) == (1000.0, 0.0)
    await ledger.close()


async def test_rows_written_before_fill_models_were_recorded_say_so(tmp_path):
    import aiosqlite

    from storage.db import migrate

    conn = await aiosqlite.connect(str(tmp_path / "old.db"))
    await migrate(conn, MIGRATIONS[:2])  # a ledger from before migration 3
    await conn.execute("INSERT INTO fills (order_id, position_id, ts_ns, symbol, side, qty, price, fee, slippage,"
                       " source) VALUES ('O1', 'P1', 1, 'ETH/USDT', 'buy', 1, 100, 0, 0, 'manual')")
    await conn.commit()
    assert await migrate(conn) == len(MIGRATIONS)
    async with conn.execute("SELECT fill_model FROM fills") as cur:
        assert [r[0] for r in await cur.fetchall()] == ["unrecorded"]  # not guessed as a book walk
    await conn.close()
