"""The verdict end to end on synthetic markets: a planted edge is shown, random sides are not,
a control that shows an edge is called leakage, and learning needs its own two checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.evaluation.baselines import RandomBand
from engine.core.bootstrap import Interval
from engine.evaluation.evidence import variant_report
from engine.evaluation.records import Costs, trade_arrays
from engine.evaluation.verdict import (EDGE, EDGE_AND_LEARNING, LEAKAGE, NO_EDGE, EdgeEvidence,
                                       LearningEvidence, decide, edge_checks)
from tests.engine.evaluation.synthetic import one_bar_trades, random_walk_bars

COSTS = Costs(taker_fee=0.0002, spread_bp=1.0)  # 5 bp a round trip
BARS = random_walk_bars(days=10, sigma_bp=10.0, seed=11)


def _folds(trades, n_folds: int = 5):
    first, last = trades[0].entry_ns, trades[-1].entry_ns + 1  # integer edges: ns overflow float precision
    edges = [first + (last - first) * i // n_folds for i in range(n_folds + 1)]
    return [trade_arrays([t for t in trades if lo <= t.entry_ns < hi]) for lo, hi in zip(edges[:-1], edges[1:])]


def _report(trades, n_trials: int = 1, variance=None):
    return variant_report(_folds(trades), BARS, COSTS, n_trials=n_trials, trial_variance=variance,
                          B=1000, random_draws=1000, seed=0)


def planted():  # the side is the sign of the very move the trade will hold: a true (leaked) edge
    return one_bar_trades(BARS, lambda k, move: 1 if move >= 0 else -1, COSTS.round_trip_bp)


def random_sides(seed: int = 5):
    rng = np.random.default_rng(seed)
    return one_bar_trades(BARS, lambda k, move: int(rng.choice([-1, 1])), COSTS.round_trip_bp)


def test_a_planted_edge_is_shown_and_the_numbers_say_why():
    report = _report(planted())
    verdict = decide(report.evidence)
    n = verdict.numbers
    print(verdict.text, {k: n[k] for k in ("net_bp", "net_bp_low", "random_p97_5_bp", "direction_bp_low", "dsr")})
    assert verdict.text == EDGE
    assert all(verdict.checks[c] for c in edge_checks(report.evidence))
    assert n["trades"] == 480 and n["days"] == 10 and n["folds_positive"] == 5
    # mean |N(0, 10 bp)| = 10·√(2/π) ≈ 7.98 bp, less 5 bp of costs
    assert n["net_bp"] == pytest.approx(10 * math.sqrt(2 / math.pi) - 5, abs=0.8)
    assert n["random_p97_5_bp"] < -3.5  # chance pays the costs
    assert report.baselines["always_long"].mean_bp == pytest.approx(-5, abs=1.5)
    assert report.stats["explore"].trades == 0 and report.deflated.sr_star == 0.0


def test_the_same_edge_survives_a_hundred_logged_trials():
    verdict = decide(_report(planted(), n_trials=100, variance=0.01).evidence)
    assert verdict.text == EDGE and verdict.numbers["dsr"] > 0.95


def test_random_sides_on_a_random_walk_show_no_edge_even_without_costs():
    assert decide(_report(random_sides()).evidence).text == NO_EDGE
    free = one_bar_trades(BARS, lambda k, move, r=np.random.default_rng(9): int(r.choice([-1, 1])), 0.0)
    report = variant_report(_folds(free), BARS, Costs(), n_trials=1, B=1000, seed=0)
    verdict = decide(report.evidence)
    print(verdict.text, verdict.numbers["net_bp_low"], verdict.numbers["net_bp_high"], verdict.numbers["dsr"])
    assert verdict.text == NO_EDGE and not verdict.checks["net_above_random"]


def test_a_control_that_shows_an_edge_is_leakage_whatever_the_model_shows():
    edge, control = _report(planted()).evidence, _report(planted()).evidence
    assert decide(edge, control=control).text == LEAKAGE
    assert decide(_report(random_sides()).evidence, control=control).text == LEAKAGE
    clean = decide(edge, control=_report(random_sides(6)).evidence)
    assert clean.text == EDGE and clean.checks["control_clean"] and clean.numbers["control"] == "run"


def _iv(low: float, high: float) -> Interval:
    return Interval((low + high) / 2, low, high, n=100, days=10)


GOOD = EdgeEvidence(net=_iv(1.0, 3.0), random_band=RandomBand(-6.0, -5.0, -4.0, 1000, 100),
                    direction=_iv(2.0, 4.0), dsr=0.99, fold_means=(1.0, 2.0, -0.5))


def test_each_edge_check_can_veto_and_learning_needs_both_of_its_checks():
    assert decide(GOOD).text == EDGE
    vetoes = {
        "net_above_zero": EdgeEvidence(_iv(-0.1, 3.0), GOOD.random_band, GOOD.direction, 0.99, GOOD.fold_means),
        "net_above_random": EdgeEvidence(GOOD.net, RandomBand(-1, 0.5, 1.5, 1000, 100), GOOD.direction, 0.99,
                                         GOOD.fold_means),
        "direction": EdgeEvidence(GOOD.net, GOOD.random_band, _iv(-1.0, 4.0), 0.99, GOOD.fold_means),
        "deflated_sharpe": EdgeEvidence(GOOD.net, GOOD.random_band, GOOD.direction, 0.94, GOOD.fold_means),
        "folds_agree": EdgeEvidence(GOOD.net, GOOD.random_band, GOOD.direction, 0.99, (1.0, -1.0)),
    }
    for check, ev in vetoes.items():
        verdict = decide(ev)
        assert verdict.text == NO_EDGE and not verdict.checks[check], check
    assert decide(EdgeEvidence(None, None, None, None)).text == NO_EDGE  # no evidence is no pass
    both = LearningEvidence(online_minus_frozen=_iv(0.2, 1.0), skill_slope=_iv(0.01, 0.05))
    assert decide(GOOD, learning=both).text == EDGE_AND_LEARNING
    assert decide(GOOD, learning=LearningEvidence(_iv(0.2, 1.0), _iv(-0.01, 0.05))).text == EDGE
    assert decide(GOOD, learning=LearningEvidence(_iv(-0.2, 1.0), _iv(0.01, 0.05))).text == EDGE
    assert decide(GOOD, learning=LearningEvidence(_iv(0.2, 1.0), None)).text == EDGE
    no_edge = EdgeEvidence(_iv(-1.0, 3.0), GOOD.random_band, GOOD.direction, 0.99, GOOD.fold_means)
    assert decide(no_edge, learning=both).text == NO_EDGE  # learning is claimed only on an edge
