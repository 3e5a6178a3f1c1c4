"""A job's ledger read back: net bp after every cost, and the signal columns (policy,
propensity, p_win) read where they were recorded and defaulted where they were not (NULL)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from engine.evaluation.ledger_rows import read_signals, read_trades
from storage.schema import MIGRATIONS


def ledger(path, with_policy_columns: bool):
    conn = sqlite3.connect(path)
    for script in MIGRATIONS:
        conn.executescript(script)
    # a signal that recorded the trade horizon it read the CNN at (1m), or an older one (5m/15m)
    outputs = json.dumps({"cnn": {"horizon": "15m", "p_up": 0.61}} if with_policy_columns else
                         {"cnn": {"p_up_5m_15m": 0.61}})
    for sid, ts, action in (("S1", 100, "buy"), ("S2", 200, "sell")):
        conn.execute("INSERT INTO signals (id, ts_ns, symbol, kind, action, confidence, contributions, outputs,"
                     " model_versions, venue) VALUES (?, ?, 'ETH/USDT', 'auto', ?, 0.7, '{}', ?, '{}', 'replay')",
                     (sid, ts, action, outputs))
    conn.execute("UPDATE signals SET policy = 'greedy', propensity = NULL, p_win = NULL")
    if with_policy_columns:
        conn.execute("UPDATE signals SET policy = 'explore', propensity = 0.1, p_win = 0.45 WHERE id = 'S2'")
    conn.execute("INSERT INTO horizon_outcomes VALUES ('S1', 900, 12.0, 'up', 1000)")
    for pid, sid, side, source, exit_price in (("P1", "S1", "buy", "auto", 2002.0), ("P2", "S2", "sell", "explore", 2002.0)):
        conn.execute("INSERT INTO positions (id, symbol, side, qty, entry_price, opened_ns, source, signal_id, entry_qty,"
                     " exit_qty, exit_value, fees, realized, status, entry_fill_model) VALUES (?, 'ETH/USDT', ?, 0.5,"
                     " 2000.0, 1, ?, ?, 0.5, 0.5, 1001.0, 0.4, 0.6, 'closed', 'bar_open+half_spread')",
                     (pid, side, source, sid))
        sign = 1 if side == "buy" else -1
        gross = sign * (exit_price - 2000.0) * 0.5
        conn.execute("INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, entry_ns, exit_ns,"
                     " gross_pnl, fees, pnl, source, open_source, close_source, signal_id, venue) VALUES"
                     " (?, 'ETH/USDT', ?, 0.5, 2000.0, ?, ?, ?, ?, 0.4, ?, ?, ?, 'rule', ?, 'replay')",
                     (pid, side, exit_price, 160 if pid == "P1" else 260, 900, gross, gross - 0.4, source, source, sid))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("with_policy_columns", [False, True])
def test_trades_and_signals_read_back_with_defaults(tmp_path, with_policy_columns):
    db = tmp_path / "l.db"
    ledger(db, with_policy_columns)
    long, short = read_trades(db)
    assert long["net_bp"] == pytest.approx((1.0 - 0.4) / 1000.0 * 1e4)  # (+1 gross − 0.4 fees) on 1,000 notional
    assert short["net_bp"] == pytest.approx((-1.0 - 0.4) / 1000.0 * 1e4) and short["side"] == -1
    assert long["policy"] == "greedy" and short["policy"] == "explore"  # the trade's source says so either way
    assert long["entry_fill_model"] == "bar_open+half_spread"
    signals = read_signals(db, 0, 150)
    assert [s["ts_ns"] for s in signals] == [100]
    assert signals[0]["label"] == "up" and signals[0]["p_up_cnn"] == 0.61 and signals[0]["policy"] == "greedy"
    later = read_signals(db, 150, 300)[0]
    assert later["label"] is None and later["side"] == -1
    if with_policy_columns:
        assert (later["policy"], later["propensity"], later["p_win"]) == ("explore", 0.1, 0.45)
        assert short["p_win"] == 0.45
    else:
        assert (later["policy"], later["propensity"], later["p_win"]) == ("greedy", None, None)
