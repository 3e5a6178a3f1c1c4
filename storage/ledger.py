"""The ledger: every durable write tickdesk makes, and the reads that rebuild state.

Each public write is one transaction, committed before it returns, so a caller that awaits it
can acknowledge (show in the UI, log) knowing a crash cannot lose it. Rows mirror the engine's
dataclasses; this module takes them by attribute and never imports the engine.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any, Iterable

import aiosqlite
import numpy as np

from storage.db import open_db, serialized
from storage.learning_reads import LearningReads
from storage.maintenance import prune_decisions
from storage.order_journal import OrderJournal
from storage.records import Scope, SignalRecord

__all__ = ["Ledger", "Scope", "SignalRecord", "decode_state_arrays"]


def decode_state_arrays(blob: bytes) -> dict[str, np.ndarray]:
    """A signal's stored state (np.savez_compressed) back to its arrays."""
    with np.load(io.BytesIO(blob)) as npz:
        return {k: npz[k] for k in npz.files}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Ledger(LearningReads, OrderJournal):
    def __init__(self, conn: aiosqlite.Connection, scope: Scope = Scope(), *, retention_s: float | None = None,
                 prune_every: int = 600) -> None:
        """`retention_s`: prune decisions nothing needs once that old, every `prune_every`
        stored (storage/maintenance.py); None keeps them all."""
        self.conn = conn
        self.scope = scope
        self.retention_ns = None if retention_s is None else int(retention_s * 1e9)
        self.prune_every = prune_every
        self._unpruned = 0
        conn.row_factory = aiosqlite.Row
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path, scope: Scope = Scope(), **retention: Any) -> "Ledger":
        return cls(await open_db(path), scope, **retention)

    async def close(self) -> None:
        await self.conn.close()

    # -- account -------------------------------------------------------------------------
    @serialized
    async def load_account(self, initial_balance: float) -> tuple[float, float]:
        """(quote_balance, fees_paid) of this scope's account; created on first use."""
        await self.conn.execute(
            "INSERT OR IGNORE INTO accounts (venue, mode, data, quote_balance, fees_paid, initial_balance)"
            " VALUES (?, ?, ?, ?, 0, ?)", (*self.scope, initial_balance, initial_balance),
        )
        await self.conn.commit()
        async with self.conn.execute("SELECT quote_balance, fees_paid FROM accounts WHERE venue = ? AND mode = ?"
                                     " AND data = ?", self.scope) as cur:
            row = await cur.fetchone()
        return float(row[0]), float(row[1])

    @serialized
    async def set_meta(self, key: str, value: str) -> None:
        await self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        await self.conn.commit()

    # -- signals -------------------------------------------------------------------------
    @serialized
    async def record_signals(self, signals: Iterable[SignalRecord]) -> None:
        """Signals in one transaction (a batch of decisions, or an opening signal with the
        decisions before it). A signal already stored is left as it is."""
        rows = [(s.id, s.ts_ns, s.symbol, s.kind, s.action, s.confidence, _dumps(s.contributions),
                 _dumps(s.outputs), _dumps(s.model_versions), s.state_ref, s.venue, s.decision, s.policy,
                 s.propensity, s.p_win) for s in signals]
        if not rows:
            return
        await self.conn.executemany(
            "INSERT OR IGNORE INTO signals (id, ts_ns, symbol, kind, action, confidence, contributions, outputs,"
            " model_versions, state_ref, venue, decision, policy, propensity, p_win)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows,
        )
        await self.conn.commit()
        self._unpruned += len(rows)
        if self.retention_ns is not None and self._unpruned >= self.prune_every:
            self._unpruned = 0
            await prune_decisions(self.conn, max(r[1] for r in rows) - self.retention_ns)

    @serialized
    async def save_signal_state(self, signal_id: str, schema: str, arrays: dict[str, np.ndarray]) -> None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        await self.conn.execute("INSERT OR REPLACE INTO signal_states (signal_id, schema, arrays) VALUES (?,?,?)",
                                (signal_id, schema, buf.getvalue()))
        await self.conn.commit()

    async def load_signal_state(self, signal_id: str) -> tuple[str, dict[str, np.ndarray]] | None:
        async with self.conn.execute("SELECT schema, arrays FROM signal_states WHERE signal_id = ?", (signal_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return row[0], decode_state_arrays(row[1])

    @serialized
    async def record_horizon_outcomes(self, rows: list[tuple[str, int, float, str, int]]) -> None:
        await self.conn.executemany(
            "INSERT OR REPLACE INTO horizon_outcomes (signal_id, horizon_s, return_bp, label, ts_ns) VALUES (?,?,?,?,?)",
            rows,
        )
        await self.conn.commit()

    async def get_signal(self, signal_id: str) -> dict[str, Any] | None:
        async with self.conn.execute("SELECT * FROM signals WHERE id = ?", (signal_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        out = dict(row)
        for key in ("contributions", "outputs", "model_versions"):
            out[key] = json.loads(out[key])
        return out

    # -- fills, positions, closed trades --------------------------------------------------
    @serialized
    async def record_fill(self, plan, venue: str, link: tuple[str, dict[str, float]] | None = None) -> None:
        """Persist one fill and everything it changes, atomically.

        `link` = (signal_id, contribution weights) registers the signal of a newly opened
        position in the same transaction, so no open position is ever without its signal.
        A closed trade is also queued in pending_training, so its training survives a crash.
        The fill's model is stored with the fill, with a position it opens (its entry model)
        and with the trade it closes (its exit model).
        """
        f = plan.fill
        db = self.conn
        try:
            position_id = (plan.after or plan.before).id if plan.closed is None else plan.closed.id
            await db.execute("BEGIN")
            if plan.before is not None:  # the closed trade row carries the final figures
                await self._upsert_position(plan.before, "closed" if plan.closed is not None else "open", f.fill_model)
            if plan.after is not None:
                await self._upsert_position(plan.after, "open", f.fill_model)
            await db.execute(
                "INSERT INTO fills (order_id, position_id, ts_ns, symbol, side, qty, price, fee, slippage, source, signal_id,"
                " fill_model) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (f.order_id, position_id, f.ts_ns, f.symbol, f.side.value, f.qty, f.price, f.fee, f.slippage, f.source,
                 f.signal_id, f.fill_model),
            )
            if f.client_id is not None:  # a journaled live order: resolved by its fill, in this transaction
                await db.execute("UPDATE live_orders SET status = 'filled', exchange_id = ? WHERE client_id = ?",
                                 (f.order_id, f.client_id))
            if plan.closed is not None:
                c = plan.closed
                await db.execute(
                    "INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, entry_ns, exit_ns,"
                    " gross_pnl, fees, pnl, source, open_source, close_source, signal_id, venue, exit_fill_model)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (c.id, c.symbol, c.side.value, c.qty, c.entry_price, c.exit_price, c.entry_ns, c.exit_ns,
                     c.gross_pnl, c.fees, c.pnl, c.source, c.open_source, c.close_source, c.signal_id, venue,
                     f.fill_model),
                )
                await db.execute("INSERT INTO pending_training (trade_id, enqueued_ns) VALUES (?, ?)", (c.id, f.ts_ns))
            if link is not None and plan.after is not None and (plan.before is None or plan.after.id != plan.before.id):
                await db.execute(
                    "INSERT INTO signal_links (position_id, signal_id, models, registered_ns) VALUES (?,?,?,?)",
                    (plan.after.id, link[0], _dumps(link[1]), f.ts_ns),
                )
            await db.execute("UPDATE accounts SET quote_balance = ?, fees_paid = ? WHERE venue = ? AND mode = ? AND data = ?",
                             (plan.balance_after, plan.fees_after, *self.scope))
            await db.commit()
        except BaseException:
            await db.rollback()
            raise

    async def _upsert_position(self, p, status: str, fill_model: str) -> None:
        """`fill_model` is kept only when the row is new: it is the model of the opening fill."""
        await self.conn.execute(
            "INSERT INTO positions (id, symbol, side, qty, entry_price, opened_ns, source, signal_id, entry_qty,"
            " exit_qty, exit_value, fees, realized, status, entry_fill_model, venue, mode, data)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET qty=excluded.qty, entry_price=excluded.entry_price,"
            " entry_qty=excluded.entry_qty, exit_qty=excluded.exit_qty, exit_value=excluded.exit_value,"
            " fees=excluded.fees, realized=excluded.realized, status=excluded.status",
            (p.id, p.symbol, p.side.value, p.qty, p.entry_price, p.opened_ns, p.source, p.signal_id, p.entry_qty,
             p.exit_qty, p.exit_value, p.fees, p.realized, status, fill_model, *self.scope),
        )

    async def open_positions(self) -> list[dict[str, Any]]:
        """This scope's open positions (another scope's stay untouched in the ledger)."""
        async with self.conn.execute("SELECT * FROM positions WHERE status = 'open' AND venue = ? AND mode = ?"
                                     " AND data = ? ORDER BY opened_ns", self.scope) as cur:
            return [dict(r) for r in await cur.fetchall()]

    async def last_event_ns(self) -> int | None:
        """Event time of this scope's newest fill: where its timeline stands."""
        async with self.conn.execute(
            "SELECT MAX(f.ts_ns) FROM fills f JOIN positions p ON p.id = f.position_id"
            " WHERE p.venue = ? AND p.mode = ? AND p.data = ?", self.scope) as cur:
            row = await cur.fetchone()
        return row[0]

    async def trained_trade_outcomes(self) -> list[tuple[str, str, float]]:
        """(trade id, model, weight) of every trade-outcome step the ledger says a model took,
        in the order they were recorded: what the checkpoints must contain (any scope: the
        models belong to the workspace)."""
        async with self.conn.execute(
            "SELECT trade_id, model, weight FROM training_events WHERE kind = 'trade_outcome' AND status = 'trained'"
            " ORDER BY id") as cur:
            return [(r[0], r[1], float(r[2])) for r in await cur.fetchall()]

    async def signal_links(self, position_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(position_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        async with self.conn.execute(f"SELECT * FROM signal_links WHERE position_id IN ({marks})", ids) as cur:
            rows = await cur.fetchall()
        return {r["position_id"]: {"signal_id": r["signal_id"], "models": json.loads(r["models"]),
                                   "registered_ns": r["registered_ns"]} for r in rows}

    async def closed_trade(self, trade_id: str) -> dict[str, Any] | None:
        rows = await self.closed_trades(trade_id=trade_id)
        return rows[0] if rows else None

    async def closed_trades(self, limit: int | None = None, trade_id: str | None = None) -> list[dict[str, Any]]:
        """Closed trades newest first, joined with their signal link, reward and training."""
        where, args = ("WHERE t.id = ?", [trade_id]) if trade_id else ("", [])
        sql = (
            "SELECT t.*, p.entry_fill_model, l.models AS link_models, r.final AS reward,"
            " r.components AS reward_components, r.preset AS reward_preset FROM closed_trades t"
            " LEFT JOIN positions p ON p.id = t.id"
            " LEFT JOIN signal_links l ON l.position_id = t.id LEFT JOIN rewards r ON r.trade_id = t.id "
            f"{where} ORDER BY t.exit_ns DESC, t.rowid DESC"
        )
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        async with self.conn.execute(sql, args) as cur:
            rows = [dict(r) for r in await cur.fetchall()]
        trained = await self._trained_models([r["id"] for r in rows])
        for r in rows:
            r["models"] = json.loads(r.pop("link_models")) if r.get("link_models") else {}
            comps = r.get("reward_components")
            r["reward_components"] = json.loads(comps) if comps else None
            r["trained"] = trained.get(r["id"], [])
        return rows

    async def _trained_models(self, trade_ids: list[str]) -> dict[str, list[str]]:
        if not trade_ids:
            return {}
        marks = ",".join("?" * len(trade_ids))
        async with self.conn.execute(
            f"SELECT trade_id, model FROM training_events WHERE kind = 'trade_outcome' AND trade_id IN ({marks})"
            " ORDER BY id", trade_ids,
        ) as cur:
            out: dict[str, list[str]] = {}
            for r in await cur.fetchall():
                models = out.setdefault(r[0], [])
                if r[1] not in models:
                    models.append(r[1])
        return out

    # -- outcomes: rewards and training ----------------------------------------------------
    async def pending_training(self) -> list[str]:
        async with self.conn.execute("SELECT trade_id FROM pending_training ORDER BY enqueued_ns") as cur:
            return [r[0] for r in await cur.fetchall()]

    @serialized
    async def record_reward(self, trade_id: str, preset: str, final: float, components: dict[str, float], ts_ns: int) -> None:
        await self.conn.execute(
            "INSERT OR REPLACE INTO rewards (trade_id, preset, final, components, ts_ns) VALUES (?,?,?,?,?)",
            (trade_id, preset, final, _dumps(components), ts_ns),
        )
        await self.conn.commit()

    @serialized
    async def complete_training(self, trade_id: str | None, events: list[dict[str, Any]], ts_ns: int,
                                kind: str = "trade_outcome") -> None:
        """Record the training events of one outcome and clear it from the pending queue."""
        try:
            await self.conn.execute("BEGIN")
            await self.conn.executemany(
                "INSERT INTO training_events (trade_id, kind, model, weight, loss, status, device, model_version, ts_ns)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                [(trade_id, kind, e["model"], e["weight"], e.get("loss"), e["status"], e.get("device", "cpu"),
                  e.get("model_version"), ts_ns) for e in events],
            )
            if trade_id is not None:
                await self.conn.execute("DELETE FROM pending_training WHERE trade_id = ?", (trade_id,))
            await self.conn.commit()
        except BaseException:
            await self.conn.rollback()
            raise

    async def recent_returns_pct(self, n: int, rewarded_only: bool = False) -> list[float]:
        """Net returns (percent of entry notional) of the last n closed trades, oldest first;
        `rewarded_only` leaves out trades whose reward is still to be computed."""
        join = "JOIN rewards r ON r.trade_id = t.id" if rewarded_only else ""
        async with self.conn.execute(
            f"SELECT t.pnl, t.qty, t.entry_price FROM closed_trades t {join}"
            " ORDER BY t.exit_ns DESC, t.rowid DESC LIMIT ?", (n,)
        ) as cur:
            rows = await cur.fetchall()
        return [100.0 * r[0] / (r[1] * r[2]) for r in reversed(rows)]
