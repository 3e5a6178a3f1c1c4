"""Trade statistics the panes and the summary share: win rates, rewards, rates.

Computed from closed trades (with their rewards) in one place so the TUI, the headless
summary and the tests agree on every number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True, slots=True)
class TradeOutcome:
    pnl: float
    reward: float | None
    source: str               # manual | auto | rule
    open_source: str
    dominant_model: str | None
    exit_ns: int
    trade_id: str | None = None


@dataclass(frozen=True, slots=True)
class WinStats:
    trades: int
    wins: int
    win_rate: float | None          # None until there is a trade: never a made-up 0%
    rolling_20: float | None
    rolling_50: float | None
    avg_reward: float | None
    avg_pnl: float | None
    trades_per_hour: float | None   # per hour of event time
    by_source: dict[str, tuple[int, float | None]]
    by_model: dict[str, tuple[int, float | None]]
    greedy_trades: int = 0          # opened by the models' own choice (not explored, not manual)
    greedy_wins: int = 0
    greedy_win_rate: float | None = None  # the edge statistic: greedy trades only


def _rate(items: Sequence[TradeOutcome]) -> float | None:
    return sum(1 for t in items if t.pnl > 0) / len(items) if items else None


def win_stats(outcomes: Sequence[TradeOutcome], span_ns: int | None = None) -> WinStats:
    """`outcomes` oldest first; `span_ns` is the event time the session has covered."""
    rewards = [t.reward for t in outcomes if t.reward is not None]

    def split(key) -> dict[str, tuple[int, float | None]]:
        groups: dict[str, list[TradeOutcome]] = {}
        for t in outcomes:
            k = key(t)
            if k is not None:
                groups.setdefault(k, []).append(t)
        return {k: (len(v), _rate(v)) for k, v in sorted(groups.items())}

    n = len(outcomes)
    greedy = [t for t in outcomes if t.open_source == "auto"]
    return WinStats(
        trades=n,
        wins=sum(1 for t in outcomes if t.pnl > 0),
        win_rate=_rate(outcomes),
        rolling_20=_rate(outcomes[-20:]) if n >= 20 else None,
        rolling_50=_rate(outcomes[-50:]) if n >= 50 else None,
        avg_reward=sum(rewards) / len(rewards) if rewards else None,
        avg_pnl=sum(t.pnl for t in outcomes) / n if n else None,
        trades_per_hour=n / (span_ns / 3.6e12) if span_ns and n else None,
        by_source=split(lambda t: t.open_source),
        # a manual trade has no lead model: the trader decided, whatever the models said
        by_model=split(lambda t: t.dominant_model if t.open_source != "manual" else None),
        greedy_trades=len(greedy),
        greedy_wins=sum(1 for t in greedy if t.pnl > 0),
        greedy_win_rate=_rate(greedy),
    )


def dominant_model(weights: dict[str, float] | None) -> str | None:
    if not weights:
        return None
    name, w = max(weights.items(), key=lambda kv: kv[1])
    return name if w > 0 else None


def outcomes_from_rows(rows: Iterable[dict]) -> list[TradeOutcome]:
    """Ledger rows (newest first) -> outcomes oldest first."""
    out = [
        TradeOutcome(
            pnl=r["pnl"], reward=r.get("reward"), source=r["source"], open_source=r["open_source"],
            dominant_model=dominant_model(r.get("models")), exit_ns=r["exit_ns"], trade_id=r["id"],
        )
        for r in rows
    ]
    out.reverse()
    return out
