"""From one variant's walk-forward trades and the bars to the numbers the verdict reads.

For a variant (frozen, online, untrained, shuffled-label control) this pools the folds' trades
of the chosen policies (greedy only by default: explored trades measure the explorer), then:
  * trade statistics with day-block intervals (trade_stats), per policy as well;
  * the rule baselines at the same entries, holds and costs, and the paired interval of
    model − baseline for each (the one against always-long is the verdict's direction check);
  * the random-entry band for the same number of trades and the same hold distribution;
  * the deflated Sharpe, N and V from the trials log;
  * each fold's mean net bp (for the folds-agree check).
The model's own net bp come from its fills as the ledger recorded them; the baselines are
filled at bar opens at `costs`, which should equal the costs the paper trades paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.evaluation.baselines import RANDOM_DRAWS, RandomBand, random_entry_band, rule_baselines
from engine.core.bootstrap import DEFAULT_B, Interval, bootstrap_paired_difference
from engine.evaluation.records import Bars, Costs, TradeArrays, concat
from engine.evaluation.sharpe import DeflatedSharpe, deflated_sharpe
from engine.evaluation.trade_stats import TradeStats, stats_of, trade_stats
from engine.evaluation.verdict import EdgeEvidence


@dataclass(frozen=True)
class VariantReport:
    evidence: EdgeEvidence
    stats: dict[str, TradeStats]  # "all" / "greedy" / "explore", before the policy filter
    deflated: DeflatedSharpe
    baselines: dict[str, TradeStats]  # each rule's own net bp at the model's entries
    paired: dict[str, Interval | None]  # model − rule, per trade, same entries
    random_band: RandomBand | None

    def as_dict(self) -> dict:
        return {
            "stats": {k: v.as_dict() for k, v in self.stats.items()},
            "deflated_sharpe": self.deflated.as_dict(),
            "baselines": {k: v.as_dict() for k, v in self.baselines.items()},
            "paired": {k: v.as_dict() if v else None for k, v in self.paired.items()},
            "random_band": self.random_band.as_dict() if self.random_band else None,
            "fold_means_bp": list(self.evidence.fold_means),
        }


def variant_report(folds: Sequence[TradeArrays], bars: Bars, costs: Costs, *, n_trials: int,
                   trial_variance: float | None = None, policies: Sequence[str] = ("greedy",),
                   B: int = DEFAULT_B, random_draws: int = RANDOM_DRAWS, seed: int = 0) -> VariantReport:
    everything = concat(list(folds))
    stats = trade_stats(everything, B=B, seed=seed)
    pooled = everything.only(policies)
    days = pooled.days
    net = stats_of(pooled.net_bp, days, B=B, seed=seed).ci
    rules = rule_baselines(bars, pooled.entry_ns, pooled.exit_ns, costs) if len(pooled) else {}
    baselines = {name: stats_of(v[np.isfinite(v)], days[np.isfinite(v)], B=B, seed=seed)
                 for name, v in rules.items()}
    paired = {name: bootstrap_paired_difference(pooled.net_bp, v, days, B=B, seed=seed)
              for name, v in rules.items()}
    band = (random_entry_band(bars, pooled.hold_ns, len(pooled), costs, draws=random_draws, seed=seed)
            if len(pooled) else None)
    deflated = deflated_sharpe(pooled.net_bp, n_trials, trial_variance)
    # a fold without trades of these policies counts as not agreeing (NaN > 0 is False)
    fold_means = tuple(float(v.mean()) if len(v) else float("nan")
                       for v in (f.only(policies).net_bp for f in folds))
    evidence = EdgeEvidence(net=net, random_band=band, direction=paired.get("always_long"),
                            dsr=deflated.dsr, fold_means=fold_means)
    return VariantReport(evidence, stats, deflated, baselines, paired, band)
