"""The terminal report of an evaluation (rich tables) and its progress on stderr.

Reads only the result JSON (runner.evaluate), so what the terminal shows is what the file
holds. An interval without bounds (fewer than 5 days to resample) prints as "n/a". The consoles are
made with markup off (`report_console`), so a printed "[low, high]" is never read as a style.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.evaluation.plan import Fold
from engine.evaluation.spec import VARIANTS, JobSpec


def _num(x: float | None, fmt: str = "{:+.2f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def _ci(iv: dict | None) -> str:
    if not iv:
        return "n/a"
    return f"{_num(iv['estimate'])} [{_num(iv['low'])}, {_num(iv['high'])}]"


def _stats_cells(st: dict) -> list[str]:
    return [str(st["trades"]), _ci(st["ci"]), _num(st["hit_rate"], "{:.1%}"), _num(st["profit_factor"], "{:.2f}")]


def report_console(stderr: bool = False) -> Console:
    """Markup off; at least 150 columns when the output is not a terminal (a file, a pipe)."""
    console = Console(stderr=stderr, markup=False, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 150)
    return console


def render(result: dict[str, Any], console: Console) -> None:
    v = result["verdict"]
    n = v["numbers"]
    fm = result["fill_model"]
    console.print(f"fill model {fm.get('bars', '')}")
    console.print(f"costs taker fee {fm.get('taker_fee', 0) * 1e4:.1f} bp per side, spread "
                  f"{fm.get('bar_spread_bp', 0):g} bp: {fm.get('round_trip_cost_bp', 0):.1f} bp a round trip;"
                  f" fills {fm.get('fills')}")

    folds = Table(title="per fold, test span (greedy trades, net bp/trade after costs, 95 % day-block CI)")
    for col in ("fold", "test span", "variant", "trades", "net bp [CI]", "hit", "PF", "random 95 % band",
                "− always-long [CI]"):
        folds.add_column(col)
    for f in result["folds"]:
        for name in VARIANTS:
            r = f["variants"][name]
            band = r["random_band"]
            folds.add_row(str(f["fold"]), f"{f['test'][0][:10]} → {f['test'][1][:10]}", name,
                          *_stats_cells(r["stats"]["greedy"]),
                          f"[{_num(band['low'])}, {_num(band['high'])}]" if band else "n/a",
                          _ci(r["paired"].get("always_long")))
    console.print(folds)

    pooled = Table(title="pooled over folds and seeds")
    for col in ("variant", "trades", "net bp [CI]", "hit", "PF", "explored trades", "explored net bp",
                "Sharpe/trade", "PSR·DSR", "− always-long [CI]"):
        pooled.add_column(col)
    for name in VARIANTS:
        r = result["pooled"][name]
        ds = r["deflated_sharpe"]
        ex = r["stats"]["explore"]
        pooled.add_row(name, *_stats_cells(r["stats"]["greedy"]), str(ex["trades"]), _num(ex["mean_bp"]),
                       _num(ds["sharpe"], "{:+.3f}"), _num(ds["dsr"], "{:.3f}"), _ci(r["paired"].get("always_long")))
    console.print(pooled)

    base = Table(title="baselines at the frozen model's entries, holds and costs (net bp/trade)")
    for col in ("baseline", "trades", "net bp [CI]", "model − baseline [CI]"):
        base.add_column(col)
    b = result["baselines"]
    if b["random_band"]:
        rb = b["random_band"]
        base.add_row(f"random entry ({rb['draws']} draws)", str(rb["trades_per_draw"]),
                     f"median {_num(rb['median'])}, 95 % band [{_num(rb['low'])}, {_num(rb['high'])}]", "")
    for name, st in b["rules"].items():
        base.add_row(name, str(st["trades"]), _ci(st["ci"]), _ci(b["paired"].get(name)))
    console.print(base)

    fc = Table(title="forecasts on every test-span decision (frozen model; skill > 0 beats the prequential base rate)")
    for col in ("forecast", "n", "log-loss (base)", "Brier (base)", "Brier skill", "AUC", "rank IC [CI]"):
        fc.add_column(col)
    for name, r in result["pooled"]["frozen"]["forecasts"].items():
        if not isinstance(r, dict):
            continue
        fc.add_row(name, str(r["n"]), f"{r['log_loss']:.4f} ({r['log_loss_base']:.4f})",
                   f"{r['brier']:.4f} ({r['brier_base']:.4f})", _num(r["brier_skill"], "{:+.4f}"),
                   _num(r["auc"], "{:.3f}"), _ci(r["rank_ic"]))
    console.print(fc)
    conf = result["pooled"]["frozen"]["forecasts"].get("confidence")
    if isinstance(conf, dict):
        bins = [f"{b['low']:.1f}-{b['high']:.1f}: {b['observed']:.2f} of {b['count']}"
                for b in conf["reliability"] if b["count"]]
        console.print("calibration of the confidence (bin: observed win share of count) " + "; ".join(bins))

    lc = result["pooled"]["learning_curve"]
    omf = result["pooled"]["online_minus_frozen"]
    console.print(f"online − frozen {_ci(omf)} bp/trade; skill slope per ×10 labels {_ci(lc['skill_slope'])};"
                  f" labels trained per fold {[p['training_labels'] for p in lc['points']]}")
    tr = result["trials"]
    console.print(f"trials on this data: {tr['n_trials']} (log {tr['path']}); deflated Sharpe {_num(n.get('dsr'), '{:.3f}')}")
    checks = ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in v["checks"].items())
    console.print(f"checks: {checks}")
    console.print(f"verdict: {v['verdict']}  (frozen net {_num(n.get('net_bp'))} bp/trade,"
                  f" CI [{_num(n.get('net_bp_low'))}, {_num(n.get('net_bp_high'))}], {n.get('trades')} trades"
                  f" over {n.get('days')} days; random 97.5 % {_num(n.get('random_p97_5_bp'))};"
                  f" direction {_num(n.get('direction_bp'))} [{_num(n.get('direction_bp_low'))},"
                  f" {_num(n.get('direction_bp_high'))}]; folds positive {n.get('folds_positive')}/{n.get('folds')})")
    console.print(f"spec {result['spec_hash']} · seeds {result['seeds']} · {result['wall_s']:.0f} s")


class FoldProgress:
    """One progress bar per fold on stderr, advancing as the fold's jobs finish; where stderr
    is not a terminal (a log file), one line per finished job instead."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console)
        self.tasks: dict[int, Any] = {}

    def plan(self, folds: list[Fold], jobs_per_fold: int) -> None:
        self.jobs_per_fold = jobs_per_fold
        self.finished: dict[int, int] = {f.index: 0 for f in folds}
        if not self.live:
            for f in folds:
                d = f.as_dict()
                self.console.print(f"fold {f.index}: train {d['train'][0]} -> {d['train'][1]},"
                                   f" test {d['test'][0]} -> {d['test'][1]}, {jobs_per_fold} jobs")
            return
        self.progress.start()
        for f in folds:
            self.tasks[f.index] = self.progress.add_task(f"fold {f.index} (test {f.as_dict()['test'][0][:10]})",
                                                         total=jobs_per_fold, last="")

    def done(self, spec: JobSpec, cached: bool) -> None:
        note = f"{spec.variant} seed {spec.seed}" + (" (cached)" if cached else "")
        self.finished[spec.fold.index] += 1
        if not self.live:
            self.console.print(f"fold {spec.fold.index}: {note} done"
                               f" ({self.finished[spec.fold.index]}/{self.jobs_per_fold})")
            return
        self.progress.update(self.tasks[spec.fold.index], advance=1, last=note)

    def stop(self) -> None:
        if self.live:
            self.progress.stop()
