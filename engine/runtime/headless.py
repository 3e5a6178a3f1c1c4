"""`tickdesk run`: the engine without a UI. Progress goes to stderr, the summary to JSON.

Never imports textual. The summary's keys are a contract that scripts read (documented in
the README): extend them, never rename or drop one.

SIGTERM, SIGHUP and SIGINT end the run like its duration would (engine/runtime/shutdown.py):
the feed stops, pending training drains (bounded), the checkpoints are saved by the close,
the summary is written with `stopped_by` naming the signal, and the command exits 0.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from engine.core.enums import Source
from engine.core.units import BP
from engine.core.bootstrap import bootstrap_mean
from engine.runtime.engine import Engine
from engine.runtime.shutdown import StopOnSignals, drain_bounded
from engine.venues.sim import sim_edge, venue_detail
from engine.views.desk import replay_progress
from engine.views.projection import model_views

log = logging.getLogger("engine.runtime.headless")

PROGRESS_EVERY_S = 2.0


def loss_trend(history: list[tuple[int, float]], n: int = 20) -> dict[str, Any]:
    """Mean loss of the first and last `n` steps of the history the trainer keeps."""
    losses = [loss for _, loss in history]
    if not losses:
        return {"first_mean": None, "last_mean": None}
    head, tail = losses[:n], losses[-n:]
    return {"first_mean": sum(head) / len(head), "last_mean": sum(tail) / len(tail)}


LATE_SHARE = 0.4  # "late": trades opened in the last 40 % of the session's event time
HOUR_NS = 3_600 * 1_000_000_000


def trade_stats(trades: list[dict]) -> dict[str, Any]:
    """Count, win rate and mean net bp of notional, with a 95 % CI from a bootstrap over
    event-time hours (trades in the same hour share a market; None below two hours)."""
    net_bp = [t["pnl"] / (t["qty"] * t["entry_price"]) * BP for t in trades if t["qty"] and t["entry_price"]]
    hours = [t["entry_ns"] // HOUR_NS for t in trades if t["qty"] and t["entry_price"]]
    ci = bootstrap_mean(net_bp, hours) if net_bp else None
    return {"trades": len(trades), "win_rate": sum(1 for t in trades if t["pnl"] > 0) / len(trades) if trades else None,
            "net_bp_per_trade": sum(net_bp) / len(net_bp) if net_bp else None,
            "net_bp_ci95": [ci.low, ci.high] if ci is not None and math.isfinite(ci.low) else None}


def opened_by_stats(closed: list[dict], start_ns: int | None = None, end_ns: int | None = None,
                 source: Source = Source.AUTO) -> dict[str, Any]:
    """`trade_stats` of the trades the models opened greedily (or by `source`), over the
    session and over its last 40 % of event time ("late": what the models do once they
    have learned, not while they learn)."""
    mine = [t for t in closed if t.get("open_source") == source]
    out = trade_stats(mine)
    if start_ns is not None and end_ns is not None:
        cut = start_ns + (1 - LATE_SHARE) * (end_ns - start_ns)
        out["late"] = trade_stats([t for t in mine if t["entry_ns"] >= cut])
    return out


def summarize(engine: Engine, session_closed: list[dict], wall_s: float, *, stopped_by: str | None = None,
              pending_training: int | None = None) -> dict[str, Any]:
    """The summary of one session: only trades closed in this session count (ledger rows)."""
    rewards = [t["reward"] for t in session_closed if t["reward"] is not None]
    wins = sum(1 for t in session_closed if t["pnl"] > 0)
    venue_stats = engine.venue.stats()
    per_symbol = {}
    for sym in engine.venue.symbols:
        m = engine.market[sym]
        vs = venue_stats.get(sym, {})
        per_symbol[sym] = {
            "trades": vs.get("trades", m.counters.trades),
            "book_updates": vs.get("book_updates", m.counters.book_updates),
            "gaps": vs.get("gaps", 0),
            "last_price": m.last_price,
        }
    rejected = dict(engine.market.rejected.by_reason)
    venue_rejected = getattr(engine.venue, "rejected", None)
    if venue_rejected is not None:
        for reason, n in venue_rejected.by_reason.items():
            rejected[reason] = rejected.get(reason, 0) + n
    span_ns = engine.clock.now_ns() - (engine.first_event_ns or engine.clock.now_ns())
    stats = engine.snapshot().stats
    models = {
        m.name: {"steps": m.steps, "last_loss": m.last_loss, "nan_skips": m.nan_skips, "device": m.device,
                 **loss_trend(list(m.losses))}
        for m in model_views(engine.metrics())
    }
    return {
        "venue": engine.venue.name,
        "venue_label": engine.venue.label,
        "sim_edge": sim_edge(engine.venue),
        "symbols": list(engine.venue.symbols),
        "events": engine.market.events,
        "rejected_events": sum(rejected.values()),
        "rejected_reasons": rejected,
        "signals": engine.signals,
        "trades_opened": engine.trades_opened,
        "trades_closed": len(session_closed),
        "win_rate": wins / len(session_closed) if session_closed else None,
        "avg_reward": sum(rewards) / len(rewards) if rewards else None,
        "pnl": sum(t["pnl"] for t in session_closed),
        "fees": sum(t["fees"] for t in session_closed),
        "by_source": {str(src): sum(1 for t in session_closed if t["source"] == src) for src in Source},  # who closed
        # who opened: the models' greedy choice (auto), an exploration draw, or the trader;
        # the edge statistics count greedy trades only
        "opened_by": {str(src): sum(1 for t in session_closed if t.get("open_source") == src)
                      for src in (Source.AUTO, Source.EXPLORE, Source.MANUAL)},
        "greedy": opened_by_stats(session_closed, engine.first_event_ns, engine.clock.now_ns()),
        "explored": opened_by_stats(session_closed, engine.first_event_ns, engine.clock.now_ns(), Source.EXPLORE),
        "signals_refused": engine.autotrader.summary(),
        "training_events": dict(engine.session_training),
        "training_lag_event_s": engine.training.summary(),  # mode, count, p50, max, labels_dropped
        "models_status": engine.models_status,
        "models": models,
        "win_rate_rolling_20": stats.rolling_20,
        "win_rate_rolling_50": stats.rolling_50,
        "trades_per_hour": len(session_closed) / (span_ns / 3.6e12) if span_ns > 0 else None,
        "event_time_s": span_ns / 1e9,
        "wall_s": wall_s,
        "events_per_s": engine.market.events / wall_s if wall_s > 0 else None,
        "per_symbol": per_symbol,
        "balance": engine.portfolio.balance,
        "equity": engine.portfolio.equity(engine.prices()),
        "db": engine.db_path,
        "fill_model": engine.orders.fill_model(),
        "scope": engine.scope._asdict(),  # whose positions and account: venue, mode, data
        "models_provenance": engine.models_provenance,  # per model: checkpoint, trained on, trades held, flags
        "stopped_by": stopped_by,  # the signal that ended the run, or None
        "pending_training": pending_training,  # closed trades still waiting for training at the end
    }


async def run_headless(
    engine: Engine,
    duration_s: float | None,
    summary_path: Path | None,
    progress: TextIO = sys.stderr,
) -> dict[str, Any]:
    closed_ids: list[str] = []
    engine.closed_listeners.append(lambda trade: closed_ids.append(trade.id))
    started = time.perf_counter()
    last_report = [started]
    # "[SIM]" stays intact for scripts that look for it; a SIM market's edge follows it.
    tag = f"[{engine.venue.label}]" + (f" {detail} ·" if (detail := venue_detail(engine.venue)) else "")

    def report(final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - last_report[0] < PROGRESS_EVERY_S:
            return
        last_report[0] = now
        now_ns = engine.clock.now_ns()
        elapsed_event = (now_ns - (engine.first_event_ns or now_ns)) / 1e9
        whole = replay_progress(engine.replay_span_ns, now_ns)
        of_span = f" ({100 * whole['progress']:.1f} % of {whole['total_s']:,.0f}s)" if whole else ""
        print(
            f"{tag} event time +{elapsed_event:,.0f}s{of_span}  events {engine.market.events:,}"
            f"  rejected {engine.market.rejected.total}  closed trades {len(closed_ids)}"
            f"  {engine.market.events / max(now - started, 1e-9):,.0f} ev/s",
            file=progress, flush=True,
        )

    engine.progress_hook = report
    try:
        with StopOnSignals(engine.stop) as signals:
            await engine.start()
            print(f"{tag} {', '.join(engine.venue.symbols)}  db {engine.db_path}"
                  f"  models: {engine.models_status}", file=progress, flush=True)
            if signals.received is None:
                await engine.run(duration_s)
            await drain_bounded(engine.drain)  # pending training finishes before the summary is written
            wall_s = time.perf_counter() - started
            report(final=True)
            session_closed = [await engine.ledger.closed_trade(i) for i in closed_ids]
            pending = len(await engine.ledger.pending_training())
            summary = summarize(engine, session_closed, wall_s, stopped_by=signals.received, pending_training=pending)
    finally:
        await engine.close()  # saves the checkpoints before the summary says the run is over
    if summary_path is not None:
        tmp = Path(summary_path).with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
        tmp.replace(summary_path)
    return summary
