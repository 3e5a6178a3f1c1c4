"""`tickdesk trades`: closed trades from the ledger, as a table or as the `trades --json`
contract (one object per trade: signal, models, reward and its components, training);
scripts read it, so fields are added, never renamed or removed."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from storage.ledger import Ledger


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")


def to_contract(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "symbol": row["symbol"],
        "side": row["side"],
        "qty": row["qty"],
        "entry_price": row["entry_price"],
        "exit_price": row["exit_price"],
        "entry_time": _iso(row["entry_ns"]),
        "exit_time": _iso(row["exit_ns"]),
        "hold_s": (row["exit_ns"] - row["entry_ns"]) / 1e9,
        "pnl": row["pnl"],
        "gross_pnl": row["gross_pnl"],
        "fees": row["fees"],
        "source": row["source"],
        "open_source": row["open_source"],
        "close_source": row["close_source"],
        "venue": row["venue"],
        "signal_id": row["signal_id"],
        "models": row["models"],
        "reward": row["reward"],
        "reward_components": row["reward_components"],
        "trained": row["trained"],
    }


async def load_trades(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    ledger = await Ledger.open(path)
    try:
        return [to_contract(r) for r in await ledger.closed_trades(limit=limit)]
    finally:
        await ledger.close()


def render_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no closed trades"
    head = f"{'exit (UTC)':<20} {'symbol':<9} {'side':<4} {'qty':>8} {'entry':>10} {'exit':>10} {'pnl':>9} {'fees':>7} {'src':<6} reward"
    lines = [head]
    for r in rows:
        reward = "—" if r["reward"] is None else f"{r['reward']:+.3f}"
        lines.append(
            f"{r['exit_time'][:19]:<20} {r['symbol']:<9} {r['side']:<4} {r['qty']:>8g} {r['entry_price']:>10.2f}"
            f" {r['exit_price']:>10.2f} {r['pnl']:>+9.2f} {r['fees']:>7.2f} {r['source']:<6} {reward}"
        )
    return "\n".join(lines)
