"""Everything the trade inspector shows about one closed trade, read from the ledger: the
trade with its reward and components, the signal that opened it (per-model outputs and
contributions, policy and propensity when the signal has them), the training events it
caused (model, loss, version, status) and its fills with fees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.ledger import Ledger


@dataclass(frozen=True, slots=True)
class TradeDetail:
    trade: dict[str, Any]
    signal: dict[str, Any] | None
    training: list[dict[str, Any]]
    fills: list[dict[str, Any]]


async def _rows(ledger: Ledger, sql: str, args: tuple) -> list[dict[str, Any]]:
    async with ledger.conn.execute(sql, args) as cur:
        return [dict(r) for r in await cur.fetchall()]


async def load_trade_detail(ledger: Ledger, trade_id: str) -> TradeDetail | None:
    trade = await ledger.closed_trade(trade_id)
    if trade is None:
        return None
    signal = await ledger.get_signal(trade["signal_id"]) if trade.get("signal_id") else None
    training = await _rows(ledger, "SELECT model, kind, weight, loss, status, device, model_version, ts_ns"
                                   " FROM training_events WHERE trade_id = ? ORDER BY id", (trade_id,))
    fills = await _rows(ledger, "SELECT * FROM fills WHERE position_id = ? ORDER BY ts_ns, rowid", (trade_id,))
    return TradeDetail(trade, signal, training, fills)
