"""From the finished jobs to the numbers: per fold and pooled, per variant, and the verdict.

Only trades the model decided inside a fold's test span count (entered at or after T + the
embargo, before T + D); the seeds' trades are pooled (a day's trades of every seed stay in one
bootstrap block). For the baselines a model trade's decision instant is its entry fill time
minus 1 ns: the model filled at that bar's open, so the baselines (which enter at the first
open strictly after the decision) fill at the same open. The random band draws its entries
from the test span's bars (per fold), or from all the folds' test spans (pooled).

Forecasts, over every decision signal of the test spans:
  confidence   the number the threshold reads, as P(a trade on the signal's side, entered at
               the next open and held for max_hold_s, nets > 0 after costs);
  p_win        the learning loop's calibrated P(net > 0), where the ledger records it, against
               the same outcome;
  cnn_up       the CNN's P(up) at the horizon it was read at against that label being "up".
The learning curve is the frozen model's confidence skill per (fold, seed) against the
labels it trained on (learning_curve.skill_slope).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.core.units import NS_PER_S
from engine.evaluation.baselines import fill_net_bp
from engine.core.bootstrap import DEFAULT_B, bootstrap_day_paired_difference
from engine.evaluation.evidence import VariantReport, variant_report
from engine.evaluation.forecast import forecast_report
from engine.evaluation.learning_curve import FoldForecast, skill_slope
from engine.evaluation.plan import Fold
from engine.evaluation.records import Bars, Costs, Trade, TradeArrays, concat, trade_arrays, utc_days
from engine.evaluation.spec import VARIANTS
from engine.evaluation.verdict import LearningEvidence, Verdict, decide

Results = dict[tuple[int, str, int], dict[str, Any]]  # (fold, variant, seed) -> job result


def bars_between(bars: Bars, start_ns: int, end_ns: int) -> Bars:
    keep = (bars.open_time_ns >= start_ns) & (bars.open_time_ns < end_ns)
    return Bars(bars.open_time_ns[keep], bars.open[keep], bars.high[keep], bars.low[keep], bars.close[keep])


def test_trades(result: dict[str, Any], fold: Fold) -> list[dict[str, Any]]:
    return [t for t in result["trades"] if fold.test_start_ns <= t["entry_ns"] - 1 < fold.test_end_ns]


def as_trades(rows: Sequence[dict[str, Any]]) -> TradeArrays:
    return trade_arrays([Trade(r["entry_ns"] - 1, r["exit_ns"] - 1, r["side"], r["entry_price"], r["exit_price"],
                               r["net_bp"], r["policy"]) for r in rows])


class Analysis:
    """The numbers of one evaluation; `as_dict()` is the JSON's folds / pooled / baselines / verdict."""

    def __init__(self, folds: list[Fold], seeds: list[int], results: Results, bars: Bars, costs: Costs, *,
                 max_hold_s: float, n_trials: int, trial_variance: float | None, B: int = DEFAULT_B) -> None:
        self.folds, self.seeds, self.results, self.bars, self.costs = folds, seeds, results, bars, costs
        self.hold_ns = int(max_hold_s * NS_PER_S)
        self.n_trials, self.trial_variance, self.B = n_trials, trial_variance, B
        test_bars = bars_between(bars, folds[0].test_start_ns, folds[-1].test_end_ns)
        self.fold_trades = {v: [as_trades([t for s in seeds for t in test_trades(results[(f.index, v, s)], f)])
                                for f in folds] for v in VARIANTS}
        self.pooled: dict[str, VariantReport] = {
            v: variant_report(self.fold_trades[v], test_bars, costs, n_trials=n_trials,
                              trial_variance=trial_variance, B=B) for v in VARIANTS}
        frozen, online = concat(self.fold_trades["frozen"]).only(["greedy"]), \
            concat(self.fold_trades["online"]).only(["greedy"])
        self.online_minus_frozen = bootstrap_day_paired_difference(online.net_bp, online.days, frozen.net_bp,
                                                                   frozen.days, B=B)
        self.skill_slope = skill_slope(self._curve_points(), B=B)
        self.verdict: Verdict = decide(self.pooled["frozen"].evidence, control=self.pooled["shuffled"].evidence,
                                       learning=LearningEvidence(self.online_minus_frozen, self.skill_slope))

    # -- forecasts ------------------------------------------------------------------------
    def _signals(self, variant: str, folds: Sequence[Fold]) -> list[dict[str, Any]]:
        return [s for f in folds for seed in self.seeds for s in self.results[(f.index, variant, seed)]["signals"]]

    def _outcomes(self, signals: Sequence[dict[str, Any]]) -> np.ndarray:
        """1 where a trade on the signal's side held max_hold_s nets > 0, 0 where not, NaN unfillable."""
        ts = np.array([s["ts_ns"] - 1 for s in signals], dtype=np.int64)
        side = np.array([s["side"] for s in signals], dtype=float)
        net = fill_net_bp(self.bars, ts, np.full(len(ts), self.hold_ns), side, self.costs)
        return np.where(np.isfinite(net), (net > 0).astype(float), np.nan)

    def forecasts(self, variant: str, folds: Sequence[Fold]) -> dict[str, Any]:
        signals = self._signals(variant, folds)
        out: dict[str, Any] = {"signals": len(signals)}
        if not signals:
            return out
        ts = np.array([s["ts_ns"] for s in signals], dtype=np.int64)
        y = self._outcomes(signals)
        for name, key, outcome in (("confidence", "confidence", y), ("p_win", "p_win", y),
                                   ("cnn_up", "p_up_cnn", self._up_labels(signals))):
            p = np.array([np.nan if s[key] is None else float(s[key]) for s in signals])
            ok = np.isfinite(p) & np.isfinite(outcome)
            order = np.argsort(ts[ok], kind="stable")
            report = forecast_report(p[ok][order], outcome[ok][order], utc_days(ts[ok][order]), B=self.B)
            out[name] = report.as_dict() if report else None
        return out

    @staticmethod
    def _up_labels(signals: Sequence[dict[str, Any]]) -> np.ndarray:
        return np.array([np.nan if s["label"] is None else float(s["label"] == "up") for s in signals])

    def _curve_points(self) -> list[FoldForecast]:
        points = []
        for f in self.folds:
            for seed in self.seeds:
                result = self.results[(f.index, "frozen", seed)]
                signals = result["signals"]
                y = self._outcomes(signals) if signals else np.zeros(0)
                p = np.array([np.nan if s["confidence"] is None else s["confidence"] for s in signals], dtype=float)
                ok = np.isfinite(p) & np.isfinite(y)
                ts = np.array([s["ts_ns"] for s in signals], dtype=np.int64)[ok]
                points.append(FoldForecast(result["training"]["trained"].get("labels", 0), p[ok], y[ok], utc_days(ts)))
        return points

    # -- the JSON -------------------------------------------------------------------------
    def fold_dict(self, f: Fold) -> dict[str, Any]:
        bars = bars_between(self.bars, f.test_start_ns, f.test_end_ns)
        variants = {}
        for v in VARIANTS:
            trades = self.fold_trades[v][f.index]
            report = variant_report([trades], bars, self.costs, n_trials=self.n_trials,
                                    trial_variance=self.trial_variance, B=self.B)
            rows = [t for s in self.seeds for t in test_trades(self.results[(f.index, v, s)], f)]
            variants[v] = {**report.as_dict(), "forecasts": self.forecasts(v, [f]),
                           "training": {str(s): self.results[(f.index, v, s)]["training"] for s in self.seeds},
                           "decisions": sum(self.results[(f.index, v, s)]["decisions"] for s in self.seeds),
                           "trades": [_trade_row(t) for t in rows]}
        return {**f.as_dict(), "variants": variants}

    def as_dict(self) -> dict[str, Any]:
        frozen = self.pooled["frozen"]
        pooled = {v: {**r.as_dict(), "forecasts": self.forecasts(v, self.folds)} for v, r in self.pooled.items()}
        pooled["online_minus_frozen"] = self.online_minus_frozen.as_dict() if self.online_minus_frozen else None
        pooled["learning_curve"] = {
            "skill_slope": self.skill_slope.as_dict() if self.skill_slope else None,
            "points": [{"training_labels": p.training_labels, "predictions": len(p.y)} for p in self._curve_points()]}
        return {
            "folds": [self.fold_dict(f) for f in self.folds],
            "pooled": pooled,
            "baselines": {"random_band": frozen.random_band.as_dict() if frozen.random_band else None,
                          "rules": {k: s.as_dict() for k, s in frozen.baselines.items()},
                          "paired": {k: i.as_dict() if i else None for k, i in frozen.paired.items()}},
            "verdict": self.verdict.as_dict(),
        }


def _trade_row(t: dict[str, Any]) -> dict[str, Any]:
    keys = ("entry_ns", "exit_ns", "side", "net_bp", "policy", "confidence", "p_win", "propensity",
            "close_source", "entry_fill_model", "exit_fill_model")
    return {k: t.get(k) for k in keys}
