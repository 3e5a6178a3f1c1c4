"""Rewards for closed trades: the comprehensive formula the product was designed around,
made sound, and a normalised alternative.

Comprehensive, term by term, with the guards that keep it finite and meaningful (without
them the formula explodes: a reward in USD, a dust-sized trade, or a z-score over one
sample each produced values thousands of times the typical one):

    final = clip( pnl*10 + time + risk*2 + consistency*0.5 + streak, ±FINAL_CLIP )

- pnl: the trade's net return in PERCENT of entry notional, after both fees. Pinning the
  unit is guard 1: in USD the reward spanned 0.2 to 35,000 depending on position size.
- time: -0.001 per minute held beyond 5 minutes.
- risk: (pnl / balance) / (notional / balance), i.e. return per unit of balance at risk,
  in percent, with the position fraction FLOORED at RISK_FLOOR (guard 2): an additive
  `+0.01` in the denominator made a dust-sized trade worth ~90x the same return at full size.
- consistency: pnl / std(pnl of the last 20 trades), counted only once MIN_HISTORY trades
  exist (guard 3: dividing by the std of ONE sample + 0.001 on trade #2 explodes), with the std
  floored at STD_FLOOR_PCT (guard 4) and the z-score clipped to ±Z_CLIP.
- streak: +0.02 per prior consecutive win (max 0.1) on a win, -0.05 per prior consecutive
  loss (max 0.2) on a loss.
- final: clipped to ±FINAL_CLIP (guard 5) so one outlier cannot dominate training.

Normalised: the net log return in basis points divided by the entry-time volatility over
the holding horizon, sigma_1m * sqrt(hold minutes), floored; clipped to ±5.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Iterable

log = logging.getLogger("engine.learning.reward")

FINAL_CLIP = 50.0
RISK_FLOOR = 0.10          # position fraction of balance below which risk stops growing
MIN_HISTORY = 5            # prior trades needed before the consistency term counts
STD_FLOOR_PCT = 0.05       # 5 bp: the smallest spread of returns we believe
Z_CLIP = 3.0
HISTORY = 20
NORMALISED_CLIP = 5.0
SIGMA_FLOOR_BP = 2.0       # floor of the horizon volatility, in bp
SIGMA_MAX_BP = 1e4         # a 1m volatility above 100 % is not a measurement: treated as unknown


@dataclass(frozen=True, slots=True)
class RewardInput:
    pnl: float              # net of fees, quote currency
    entry_price: float
    exit_price: float
    qty: float
    fees: float
    side: str               # buy (long) | sell (short)
    hold_s: float
    balance: float          # account balance when the trade opened (quote)
    sigma_1m_bp: float | None = None  # 1m volatility at entry, for the normalised preset


@dataclass(frozen=True, slots=True)
class Reward:
    final: float
    components: dict[str, float]
    preset: str

    def log_line(self) -> str:
        c = self.components
        if self.preset == "comprehensive":
            return (f"REWARD CALC: PnL={c['pnl']:.4f}, Time={c['time']:.4f}, Risk={c['risk']:.4f}, "
                    f"Final={self.final:.4f} (consistency={c['consistency']:.4f}, streak={c['streak']:.4f})")
        return (f"REWARD CALC: PnL={c['return_bp']:.2f}bp, Time={c['hold_min']:.2f}min, "
                f"Risk={c['sigma_h_bp']:.2f}bp, Final={self.final:.4f}")


def _finite(x: float, default: float = 0.0) -> float:
    return x if math.isfinite(x) else default


def _clip(x: float, bound: float) -> float:
    return max(-bound, min(bound, x))


class RewardCalculator:
    """Stateful: the comprehensive preset depends on recent trades (consistency, streaks).
    `restore` replays history so a restart computes the same rewards."""

    def __init__(self, preset: str = "comprehensive") -> None:
        if preset not in ("comprehensive", "normalised"):
            raise ValueError(f"unknown reward preset {preset!r}")
        self.preset = preset
        self.recent_pct: deque[float] = deque(maxlen=HISTORY)
        self.win_streak = 0
        self.loss_streak = 0

    def restore(self, pnl_pcts_oldest_first: Iterable[float]) -> None:
        for p in pnl_pcts_oldest_first:
            self._remember(p)

    def _remember(self, pnl_pct: float) -> None:
        self.recent_pct.append(pnl_pct)
        if pnl_pct > 0:
            self.win_streak, self.loss_streak = self.win_streak + 1, 0
        else:
            self.win_streak, self.loss_streak = 0, self.loss_streak + 1

    def compute(self, t: RewardInput) -> Reward:
        """The reward of one closed trade; updates the history afterwards."""
        notional = t.qty * t.entry_price
        if not (notional > 0 and math.isfinite(notional)):
            raise ValueError(f"trade notional must be > 0, got {notional!r}")
        pnl_pct = _finite(100.0 * t.pnl / notional)
        reward = self._comprehensive(t, pnl_pct, notional) if self.preset == "comprehensive" else self._normalised(t)
        self._remember(pnl_pct)
        log.info(reward.log_line())
        return reward

    def _comprehensive(self, t: RewardInput, pnl_pct: float, notional: float) -> Reward:
        hold_min = max(0.0, t.hold_s) / 60.0
        time_pen = -0.001 * max(0.0, hold_min - 5.0) + 0.0  # + 0.0: no '-0.0000' in the log
        balance = t.balance if t.balance > 0 and math.isfinite(t.balance) else notional
        position_frac = max(notional / balance, RISK_FLOOR)
        risk = _finite((100.0 * t.pnl / balance) / position_frac)
        consistency = 0.0
        if len(self.recent_pct) >= MIN_HISTORY:
            mean = sum(self.recent_pct) / len(self.recent_pct)
            std = math.sqrt(sum((p - mean) ** 2 for p in self.recent_pct) / len(self.recent_pct))
            consistency = _clip(pnl_pct / max(std, STD_FLOOR_PCT), Z_CLIP)
        if pnl_pct > 0:
            streak = min(0.1, self.win_streak * 0.02)
        else:
            streak = -min(0.2, self.loss_streak * 0.05) + 0.0
        raw = pnl_pct * 10.0 + time_pen + risk * 2.0 + consistency * 0.5 + streak
        final = _clip(_finite(raw), FINAL_CLIP)
        comps = {"pnl": pnl_pct, "base": pnl_pct * 10.0, "time": time_pen, "risk": risk,
                 "consistency": consistency, "streak": streak, "raw": raw, "final": final}
        return Reward(final, comps, "comprehensive")

    def _normalised(self, t: RewardInput) -> Reward:
        sign = 1.0 if t.side == "buy" else -1.0
        gross_bp = sign * math.log(t.exit_price / t.entry_price) * 1e4
        fees_bp = 1e4 * t.fees / (t.qty * t.entry_price)
        ret_bp = _finite(gross_bp - fees_bp)
        hold_min = max(t.hold_s / 60.0, 1.0 / 60.0)
        sigma = t.sigma_1m_bp
        if sigma is None or not (0.0 < sigma <= SIGMA_MAX_BP):  # also refuses NaN
            sigma = SIGMA_FLOOR_BP
        sigma_h = max(sigma * math.sqrt(hold_min), SIGMA_FLOOR_BP)
        final = _clip(ret_bp / sigma_h, NORMALISED_CLIP)
        comps = {"return_bp": ret_bp, "fees_bp": fees_bp, "hold_min": hold_min, "sigma_h_bp": sigma_h, "final": final}
        return Reward(final, comps, "normalised")
