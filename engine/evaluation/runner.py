"""`tickdesk evaluate` end to end: data -> fold plan -> jobs -> numbers -> JSON.

Only bar files (kline CSVs/zips) are evaluated: the baselines fill at bar opens, and the
model's own trades fill on bars too (next open ± half `bar_spread_bp`, plus the taker fee),
so both pay the same stated costs. The traded symbol's bars are the market the statistics
read. The user's ledger and checkpoints are never opened: every job runs in a temporary
workspace; `--from-workspace` copies the configured checkpoint folder into each job's
workspace, so the models start from what the workspace learned (which may have seen the
test days: then the numbers are in-sample, and the JSON says `from_workspace: true`).

The result goes to `--json OUT` if given and always to `latest_evaluation_path(<ledger>)`,
beside the configured ledger, where the TUI finds it. The trials log (every evaluation spec
ever run on the same data, for the deflated Sharpe) sits beside it, one file per data set.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import Settings
from engine.core.units import round_trip_cost_bp
from engine.evaluation.analysis import Analysis, Results, as_trades, test_trades
from engine.evaluation.plan import Fold, fold_plan
from engine.evaluation.pool import JobCache, OnDone, run_jobs
from engine.evaluation.records import Bars, Costs, concat
from engine.evaluation.sharpe import sharpe
from engine.evaluation.spec import VARIANTS, DataFile, JobSpec, code_version, dir_sha256, file_sha256, user_settings
from engine.evaluation.trials import append_trial, read_trials, spec_hash
from engine.venues import binance_ws
from engine.venues.klines import is_bar_file, read_bars
from engine.venues.symbols import symbol_from_name
from engine.views.evaluation_file import latest_evaluation_path


class EvaluationError(ValueError):
    """Bad input for an evaluation (one line, exit 2)."""


@dataclass(frozen=True)
class Request:
    data: list[Path]
    settings: Settings
    folds: int
    train_days: float
    test_days: int
    embargo_min: float
    seeds: int
    jobs: int
    ray: str | None = None
    from_workspace: bool = False


def load_bars(files: list[Path], traded: str) -> tuple[Bars, tuple[int, int]]:
    """The traded symbol's bars, and the span every file covers: (latest first open, earliest
    end of the last bar)."""
    spans, market = [], None
    for path in files:
        if not path.is_file():
            raise EvaluationError(f"--data: file not found: {path}")
        if binance_ws.is_recording(path) or not is_bar_file(path):
            raise EvaluationError(f"--data {path.name}: evaluate reads bar files (kline CSV/zip) only")
        try:
            bars = list(read_bars(path))
        except ValueError as exc:
            raise EvaluationError(f"--data {path.name}: {exc}") from None
        if len(bars) < 3:
            raise EvaluationError(f"--data {path.name}: fewer than three bars")
        spans.append((bars[0].ts_ns, bars[-1].end_ns))
        if symbol_from_name(path) == traded:
            market = Bars(np.array([b.ts_ns for b in bars]), np.array([b.open for b in bars]),
                          np.array([b.high for b in bars]), np.array([b.low for b in bars]),
                          np.array([b.close for b in bars]))
    if market is None:
        raise EvaluationError(f"--data: no bar file for the traded symbol {traded}")
    return market, (max(s for s, _ in spans), min(e for _, e in spans))


def finite(value: Any) -> Any:
    """JSON without NaN or ±Infinity: a bound that does not exist (an unbounded interval, a
    statistic of no data) is written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, np.generic):
        return finite(value.item())
    return value


def fill_model(results: Results, settings: Settings) -> dict[str, Any]:
    first = next(iter(results.values()))["fill_model"]
    counts: dict[str, int] = {}
    for r in results.values():
        for name, n in (r["fill_model"].get("fills") or {}).items():
            counts[name] = counts.get(name, 0) + n
    t = settings.trading
    return {**first, "fills": counts, "round_trip_cost_bp": round_trip_cost_bp(t.taker_fee) + t.bar_spread_bp}


def evaluate(req: Request, cache: JobCache, *, on_plan: Callable[[list[Fold], int], None] | None = None,
             on_done: OnDone | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    s = req.settings
    bars, (start_ns, end_ns) = load_bars(req.data, s.venue.traded)
    try:
        folds = fold_plan(start_ns, end_ns, folds=req.folds, train_days=req.train_days, test_days=req.test_days,
                          embargo_min=req.embargo_min)
    except ValueError as exc:
        raise EvaluationError(str(exc)) from None
    seeds = [s.sim.seed + i for i in range(req.seeds)]
    data = tuple(DataFile(str(p.resolve()), file_sha256(p)) for p in req.data)
    checkpoints = s.checkpoint_path if req.from_workspace else None
    ck_hash = dir_sha256(checkpoints) if checkpoints else None
    if req.from_workspace and ck_hash is None:
        raise EvaluationError(f"--from-workspace: no checkpoints at {checkpoints}")
    settings = user_settings(s.model_dump(mode="json"))
    code = code_version()
    specs = [JobSpec(data, settings, f, v, seed, code, str(checkpoints) if checkpoints else None, ck_hash)
             for f in folds for v in VARIANTS for seed in seeds]
    if on_plan:
        on_plan(folds, len(VARIANTS) * len(seeds))
    # the longest jobs first (online trains through the test span; untrained never trains), so
    # the pool's last minutes are not one long job running alone
    order = ("online", "frozen", "shuffled", "untrained")
    by_key = run_jobs(sorted(specs, key=lambda j: order.index(j.variant)), cache, jobs=req.jobs, ray_address=req.ray, on_done=on_done)
    results: Results = {(j.fold.index, j.variant, j.seed): by_key[j.key] for j in specs}

    spec = {"data": sorted(d.sha256 for d in data), "settings": settings, "code": code, "seeds": seeds,
            "checkpoints": ck_hash, "plan": {"folds": req.folds, "train_days": req.train_days,
                                             "test_days": req.test_days, "embargo_min": req.embargo_min}}
    trials_path = latest_evaluation_path(s.db_path).parent / f"trials-{spec_hash({'data': spec['data']})}.jsonl"
    frozen = concat([as_trades([t for seed in seeds for t in test_trades(results[(f.index, "frozen", seed)], f)])
                     for f in folds]).only(["greedy"])
    own_hash = append_trial(trials_path, spec, sharpe(frozen.net_bp))
    trials = read_trials(trials_path)
    costs = Costs(taker_fee=s.trading.taker_fee, spread_bp=s.trading.bar_spread_bp)
    analysis = Analysis(folds, seeds, results, bars, costs, max_hold_s=s.risk.max_hold_s,
                        n_trials=trials.n_trials, trial_variance=trials.sharpe_variance)
    out = {
        **analysis.as_dict(),
        "trials": {"path": str(trials_path), "n_trials": trials.n_trials, "sharpe_variance": trials.sharpe_variance},
        "fill_model": fill_model(results, s),
        "seeds": seeds,
        "spec_hash": own_hash,
        "plan": spec["plan"],
        "data": [{"file": Path(d.path).name, "sha256": d.sha256} for d in data],
        "traded": s.venue.traded,
        "from_workspace": req.from_workspace,
        "code_version": code,
        "wall_s": time.perf_counter() - started,
    }
    return finite(out)


def write_result(result: dict[str, Any], db: Path, json_out: Path | None) -> Path:
    """Write the JSON beside the ledger (for the TUI) and to `json_out`; returns the former."""
    latest = latest_evaluation_path(db)
    text = json.dumps(result, indent=2) + "\n"
    for path in filter(None, (json_out, latest)):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return latest
