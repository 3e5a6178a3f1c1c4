"""Migration 4: positions and accounts belong to a scope (venue kind, paper or live orders,
data), a session sees only its own; decisions nothing needs are pruned; the ledger's files
are owner-only."""

import os
import stat

import aiosqlite

from engine.core.enums import Side, Source
from engine.decision.signal import Signal
from engine.trading.portfolio import Fill, Portfolio
from storage.db import migrate, open_db
from storage.ledger import Ledger, Scope
from storage.maintenance import prune_decisions
from storage.schema import MIGRATIONS

SIM, REPLAY, LIVE = Scope("sim", "paper", ""), Scope("replay", "paper", "a.gz"), Scope("live", "live", "binance")


async def _open_position(ledger: Ledger, scope_balance: float = 1000.0, signal_id: str = "S1"):
    await ledger.load_account(scope_balance)
    portfolio = Portfolio(scope_balance)
    await ledger.record_signals([Signal(signal_id, 1, "ETH/USDT", Source.MANUAL, Side.BUY, ledger.scope.venue)])
    plan = portfolio.plan_fill(Fill(5, "ETH/USDT", Side.BUY, 1.0, 100.0, 0.02, 0.0, "manual", signal_id,
                                    fill_model="book_walk"))
    await ledger.record_fill(plan, ledger.scope.venue, (signal_id, {"cnn": 1.0}))
    return plan


async def test_a_sim_position_and_balance_are_invisible_to_replay_and_live_scopes(tmp_path):
    db = tmp_path / "s.db"
    sim = await Ledger.open(db, SIM)
    plan = await _open_position(sim)
    assert [p["id"] for p in await sim.open_positions()] == [plan.after.id]
    assert await sim.last_event_ns() == 5
    await sim.close()
    for scope in (REPLAY, LIVE, Scope("sim", "live", "")):
        other = await Ledger.open(db, scope)
        assert await other.open_positions() == []
        assert await other.load_account(500.0) == (500.0, 0.0)  # its own account, not SIM's
        assert await other.last_event_ns() is None
        await other.close()
    sim = await Ledger.open(db, SIM)
    assert await sim.load_account(1000.0) == (plan.balance_after, plan.fees_after)
    await sim.close()


async def test_migration_4_gives_old_rows_the_venue_they_recorded(tmp_path):
    path = tmp_path / "old.db"
    conn = await aiosqlite.connect(str(path))
    await migrate(conn, MIGRATIONS[:3])  # a ledger from before scopes
    await conn.executescript("""
        INSERT INTO account VALUES (1, 990.5, 1.5, 1000.0);
        INSERT INTO signals (id, ts_ns, symbol, kind, action, contributions, outputs, model_versions, venue)
            VALUES ('S1', 1, 'ETH/USDT', 'manual', 'buy', '{}', '{}', '{}', 'replay');
        INSERT INTO positions (id, symbol, side, qty, entry_price, opened_ns, source, signal_id, entry_qty, exit_qty,
            exit_value, fees, realized, status) VALUES ('P1', 'ETH/USDT', 'buy', 1, 100, 1, 'manual', 'S1', 1, 0, 0, 0, 0, 'open');
        INSERT INTO positions (id, symbol, side, qty, entry_price, opened_ns, source, signal_id, entry_qty, exit_qty,
            exit_value, fees, realized, status) VALUES ('P2', 'ETH/USDT', 'buy', 1, 100, 1, 'manual', NULL, 1, 0, 0, 0, 0, 'open');
    """)
    await conn.commit()
    assert await migrate(conn) == len(MIGRATIONS)
    rows = await (await conn.execute("SELECT id, venue, mode, data FROM positions ORDER BY id")).fetchall()
    # a replay position of unknown data is restored into no session; an unattributed one is SIM's
    assert [tuple(r) for r in rows] == [("P1", "replay", "paper", "unrecorded"), ("P2", "sim", "paper", "")]
    accounts = await (await conn.execute("SELECT venue, mode, data, quote_balance, fees_paid FROM accounts")).fetchall()
    assert [tuple(r) for r in accounts] == [("sim", "paper", "", 990.5, 1.5)]
    await conn.close()


async def test_the_dqn_refill_reads_only_trades_of_the_session_venue(tmp_path):
    db = tmp_path / "d.db"
    ledger = await Ledger.open(db, SIM)
    plan = await _open_position(ledger)
    portfolio = Portfolio(1000.0)
    portfolio.apply(plan)
    close = portfolio.plan_fill(Fill(9, "ETH/USDT", Side.SELL, 1.0, 101.0, 0.02, 0.0, "manual", fill_model="book_walk"))
    await ledger.record_fill(close, "sim")
    trade = close.closed.id
    await ledger.save_signal_state("S1", "schema", {"vector": [1.0]})
    await ledger.record_reward(trade, "comprehensive", 0.5, {"final": 0.5}, 9)
    await ledger.complete_training(trade, [{"model": "dqn", "weight": 0.4, "status": "trained"}], 10)
    assert [r["reward"] for r in await ledger.dqn_experience("schema", 10)] == [0.5]
    assert await ledger.trained_trade_outcomes() == [(trade, "dqn", 0.4)]
    await ledger.close()
    replay = await Ledger.open(db, REPLAY)
    assert await replay.dqn_experience("schema", 10) == []
    await replay.close()


async def test_decisions_nothing_needs_are_pruned_and_the_rest_kept(tmp_path):
    ledger = await Ledger.open(tmp_path / "p.db", SIM)
    await _open_position(ledger, signal_id="OPEN")  # an opening signal at t=1: kept however old
    s = 1_000_000_000
    await ledger.record_signals([Signal(f"D{i}", i * s, "ETH/USDT", Source.AUTO, Side.BUY, "sim") for i in range(1, 11)])
    await ledger.record_horizon_outcomes([("D2", 60, 1.5, "up", 3 * s)])  # a labelled decision: kept
    assert await prune_decisions(ledger.conn, 6 * s) == 4  # D1, D3, D4, D5
    ids = [r[0] for r in await (await ledger.conn.execute("SELECT id FROM signals ORDER BY ts_ns, id")).fetchall()]
    assert ids == ["OPEN", "D2", "D6", "D7", "D8", "D9", "D10"]
    await ledger.close()


async def test_pruning_runs_as_decisions_are_stored(tmp_path):
    s = 1_000_000_000
    ledger = await Ledger.open(tmp_path / "r.db", SIM, retention_s=5.0, prune_every=4)
    for i in range(1, 13):
        await ledger.record_signals([Signal(f"D{i}", i * s, "ETH/USDT", Source.AUTO, Side.BUY, "sim")])
    ts = [r[0] for r in await (await ledger.conn.execute("SELECT ts_ns FROM signals ORDER BY ts_ns")).fetchall()]
    assert ts[0] >= 12 * s - 5 * s - 4 * s and ts[-1] == 12 * s  # bounded: at most retention + one prune interval
    await ledger.close()


async def test_the_ledger_wal_and_shm_are_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "perm.db"
        conn = await open_db(path)
        await conn.execute("CREATE TABLE t (x)")
        await conn.commit()
        for name in ("perm.db", "perm.db-wal", "perm.db-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        await conn.close()
        os.chmod(path, 0o644)  # a ledger from before: tightened when opened
        conn = await open_db(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        await conn.close()
    finally:
        os.umask(old)


async def test_vacuum_prunes_and_gives_the_space_back(tmp_path):
    from engine.views.ledger_size import ledger_stats, prune_and_vacuum

    path = tmp_path / "v.db"
    ledger = await Ledger.open(path, SIM)
    s = 1_000_000_000
    outputs = {"blob": "x" * 2000}
    await ledger.record_signals([Signal(f"D{i}", 4 * i * s, "ETH/USDT", Source.AUTO, Side.BUY, "sim", outputs=outputs)
                                 for i in range(2000)])  # one every 4 s over 2.2 h
    await ledger.close()
    result = await prune_and_vacuum(path, retention_s=3600.0)
    assert result["pruned_decisions"] == 1099  # older than 7996 s - 3600 s
    stats = await ledger_stats(path)
    assert stats["rows"]["signals"] == 901
    assert stats["file_bytes"] + stats["wal_bytes"] < 0.6 * (result["before"]["file_bytes"] + result["before"]["wal_bytes"])
