"""A finished job's ledger read back as plain rows: its closed trades and its test signals.

Read with sqlite3 after the engine has closed it (the job's own temporary ledger). The
learning loop is gaining per-signal `policy` ("greedy" | "explore"), `propensity` (the
probability of the action taken) and a calibrated `p_win` (the probability that the trade
nets > 0 after costs) as columns of the signals table, and trades opened by exploration get
the source "explore"; a ledger without those columns reads as greedy with no propensity and
no p_win, so this works before and after that change.

Net bp of a trade = pnl / (qty · entry price) · 10⁴: pnl is after fees, and the fill prices
already carry the spread, so this is what the trade earned after every cost.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from engine.core.units import BP

HORIZON_S = {"1m": 60, "5m": 300, "15m": 900}
LEGACY_HORIZON_S = 900  # signals from before the trade horizon was recorded were read at 5m/15m
OPTIONAL_SIGNAL_COLUMNS = ("policy", "propensity", "p_win")


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _optional(conn: sqlite3.Connection, alias: str) -> str:
    have = _columns(conn, "signals")
    return ", ".join(f"{alias}.{c} AS {c}" if c in have else f"NULL AS {c}" for c in OPTIONAL_SIGNAL_COLUMNS)


def policy_of(open_source: str, signal_policy: str | None) -> str:
    if open_source == "explore" or signal_policy == "explore":
        return "explore"
    return "greedy"


def read_trades(db: Path) -> list[dict[str, Any]]:
    """Every closed trade, by entry time, with its net bp, policy and opening signal's forecast."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT t.side, t.qty, t.entry_price, t.exit_price, t.entry_ns, t.exit_ns, t.pnl, t.fees,"
            " t.open_source, t.close_source, t.exit_fill_model, p.entry_fill_model,"
            f" s.confidence AS confidence, {_optional(conn, 's')}"
            " FROM closed_trades t LEFT JOIN positions p ON p.id = t.id"
            " LEFT JOIN signals s ON s.id = t.signal_id ORDER BY t.entry_ns, t.exit_ns, t.rowid").fetchall()
    finally:
        conn.close()
    return [{
        "entry_ns": r["entry_ns"], "exit_ns": r["exit_ns"], "side": 1 if r["side"] == "buy" else -1,
        "entry_price": r["entry_price"], "exit_price": r["exit_price"],
        "net_bp": r["pnl"] / (r["qty"] * r["entry_price"]) * BP, "fees": r["fees"],
        "policy": policy_of(r["open_source"], r["policy"]), "open_source": r["open_source"],
        "close_source": r["close_source"], "entry_fill_model": r["entry_fill_model"],
        "exit_fill_model": r["exit_fill_model"], "confidence": r["confidence"], "p_win": r["p_win"],
        "propensity": r["propensity"],
    } for r in rows]


def read_signals(db: Path, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
    """The decision signals made in [start_ns, end_ns), in time order, with what they predicted:
    the ensemble's raw score, p_win where recorded, the CNN's P(up) at the horizon it was read
    at, and that horizon's label where it matured ("up" | "flat" | "down")."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            f"SELECT s.ts_ns, s.action, s.confidence, s.outputs, {_optional(conn, 's')},"
            " (SELECT json_group_object(h.horizon_s, h.label) FROM horizon_outcomes h WHERE h.signal_id = s.id)"
            " AS labels FROM signals s"
            " WHERE s.kind = 'auto' AND s.ts_ns >= ? AND s.ts_ns < ? ORDER BY s.ts_ns, s.rowid",
            (start_ns, end_ns)).fetchall()
    finally:
        conn.close()
    out = []
    for r in rows:
        outputs = json.loads(r["outputs"]) if r["outputs"] else {}
        cnn = outputs.get("cnn") or {}
        labels = json.loads(r["labels"]) if r["labels"] else {}
        horizon_s = HORIZON_S.get(cnn.get("horizon"), LEGACY_HORIZON_S)
        out.append({"ts_ns": r["ts_ns"], "side": 1 if r["action"] == "buy" else -1, "confidence": r["confidence"],
                    "p_win": r["p_win"], "policy": r["policy"] or "greedy", "propensity": r["propensity"],
                    "p_up_cnn": cnn.get("p_up", cnn.get("p_up_5m_15m")), "label": labels.get(str(horizon_s))})
    return out
