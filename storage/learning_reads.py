"""The ledger's reads that refill what the models learnt on a start: the DQN's replay
memory (closed trades with their entry states) and the calibration (labelled decisions with
their per-model inputs). A mixin of `storage.ledger.Ledger`, which holds the connection and
the session's scope; kept apart so the ledger module stays about writes and their reads."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from storage.records import Scope


class LearningReads:
    conn: aiosqlite.Connection
    scope: Scope

    async def dqn_experience(self, schema: str, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Closed trades whose transition the DQN stored (its outcome event trained or
        warmed up), newest first: side, reward, the weight it trained with, prices, fees,
        times, the entry signal's context and the state arrays still compressed (decode
        them off the event loop with `decode_state_arrays`). Only states of `schema`, and
        only trades of this session's venue kind (a replay's DQN memory holds no SIM trades)."""
        sql = """
            SELECT ct.side, ct.qty, ct.entry_price, ct.exit_price, ct.entry_ns, ct.exit_ns, ct.fees,
                   r.final AS reward, s.outputs, ss.arrays,
                   (SELECT te.weight FROM training_events te
                     WHERE te.trade_id = ct.id AND te.model = 'dqn' AND te.kind = 'trade_outcome'
                       AND te.status IN ('trained', 'warming_up') LIMIT 1) AS weight
            FROM closed_trades ct
            JOIN rewards r ON r.trade_id = ct.id
            JOIN signals s ON s.id = ct.signal_id
            JOIN signal_states ss ON ss.signal_id = ct.signal_id AND ss.schema = ?
            JOIN positions p ON p.id = ct.id AND p.venue = ?
            WHERE weight IS NOT NULL
            ORDER BY ct.exit_ns DESC, ct.id
            LIMIT ? OFFSET ?"""
        async with self.conn.execute(sql, (schema, self.scope.venue, limit, offset)) as cur:
            cols = [c[0] for c in cur.description]
            rows = [dict(zip(cols, r)) for r in await cur.fetchall()]
        for row in rows:
            row["context"] = (json.loads(row.pop("outputs")) or {}).get("context") or {}
        return rows

    async def calibration_pairs(self, horizon_s: int, limit: int) -> list[tuple[dict[str, list[float]], float]]:
        """The newest `limit` labelled decisions of this venue kind that stored calibration
        inputs, oldest first: (side -> the models' logit scores, the move over `horizon_s` in
        bp). What a restarted session refits its calibration on."""
        sql = """
            SELECT s.outputs, h.return_bp FROM horizon_outcomes h JOIN signals s ON s.id = h.signal_id
            WHERE h.horizon_s = ? AND s.venue = ? AND s.kind = 'auto'
            ORDER BY s.ts_ns DESC, s.id DESC LIMIT ?"""
        async with self.conn.execute(sql, (horizon_s, self.scope.venue, limit)) as cur:
            rows = await cur.fetchall()
        pairs = []
        for outputs, move_bp in reversed(rows):
            inputs = (json.loads(outputs) or {}).get("calibration")
            if inputs:
                pairs.append((inputs, float(move_bp)))
        return pairs
