"""`tickdesk`: the TUI by default; `tickdesk run` headless; `trades`, `db`, `bench`, `record`.

Kept import-light: textual is imported only for the TUI and torch only by commands that run
models, so `tickdesk --help` is instant and `tickdesk run` never loads textual.
Exit codes: 0 success (also a run stopped by SIGTERM, SIGHUP or SIGINT: it shuts down
cleanly), 1 runtime failure, 2 bad usage or bad config (one-line reason), including a
workspace another process holds ("ledger in use by pid N").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import signal
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, get_type_hints

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    invoke_without_command=True,
    help="tickdesk: a terminal trading workstation whose models learn from its own closed trades.",
)
bench_app = typer.Typer(help="Benchmarks: print figures with the hardware they ran on.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
db_app = typer.Typer(help="The ledger's size: what it holds, and reclaiming space.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def fail(message: str, code: int = 2) -> None:
    from engine.core.redact import redact

    typer.echo(f"tickdesk: error: {redact(message)}", err=True)
    raise typer.Exit(code)


def check_ledger(path: Path) -> None:
    """Exit 2 with one line if an existing ledger is not sound (storage/db.py: quick_check)."""
    from storage.db import CorruptDatabase, check_file

    try:
        check_file(path)
    except CorruptDatabase as exc:
        fail(str(exc))


def configure_logging(**options: Any) -> None:
    """`logging.basicConfig(**options)`, with API credentials masked in every record."""
    from engine.core.redact import install

    logging.basicConfig(**options)
    install()


ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="A TOML file overriding the shipped and user config.")]
DataOpt = Annotated[Optional[list[Path]], typer.Option("--data", help="Recorded data file for --venue replay (repeatable).")]
DbOpt = Annotated[Optional[Path], typer.Option(
    "--db", help="A SQLite ledger path instead of a workspace; its models go beside it in <stem>.models/.")]
WorkspaceOpt = Annotated[Optional[Path], typer.Option(
    "--workspace", help="Folder holding one ledger and its models (default: <user data dir>/default).")]


@dataclass(frozen=True)
class SessionOptions:
    """The options shared by the commands that run the engine (`tickdesk` and `tickdesk run`),
    declared once here; `session_options` adds them to a command. `trades` uses two of them."""

    config: ConfigOpt = None
    workspace: WorkspaceOpt = None
    venue: Annotated[Optional[str], typer.Option("--venue", help="sim | replay | live")] = None
    data: DataOpt = None
    symbols: Annotated[Optional[str], typer.Option(
        "--symbols", help="Comma-separated, e.g. ETH/USDT,BTC/USDT (first is traded).")] = None
    db: DbOpt = None
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the simulated market.")] = None
    speed: Annotated[Optional[str], typer.Option(
        "--speed", help="Event-time speed: a factor (1 = real time) or 'max'.")] = None
    auto: Annotated[Optional[bool], typer.Option("--auto/--no-auto", help="Let the models trade.")] = None

    def settings(self, live_orders: bool = False):
        """Settings from the config chain plus these options; exits 2 on bad input."""
        from engine.config import ConfigError, load_settings

        over: dict[str, Any] = {}
        if self.venue is not None:
            over.setdefault("venue", {})["kind"] = self.venue
        if self.symbols is not None:
            syms = [s.strip().upper() for s in self.symbols.split(",") if s.strip()]
            over.setdefault("venue", {}).update(symbols=syms, traded=syms[0] if syms else "")
        if self.workspace is not None:
            over.setdefault("storage", {})["workspace"] = str(self.workspace)
        if self.db is not None:
            over.setdefault("storage", {})["db"] = str(self.db)
        if self.seed is not None:
            over.setdefault("sim", {})["seed"] = self.seed
        if self.speed is not None:
            over.setdefault("engine", {})["speed"] = self.speed
        if self.auto is not None:
            over.setdefault("models", {})["auto_trade"] = self.auto
        if live_orders:
            over.setdefault("trading", {})["live_orders"] = True
        try:
            return load_settings(self.config, over)
        except ConfigError as exc:
            fail(str(exc))


def session_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give `command` the SessionOptions fields as its first command-line options and call it
    with them gathered into its `session` argument (typer reads the rewritten signature)."""
    shared = get_type_hints(SessionOptions, include_extras=True)
    own = get_type_hints(command, include_extras=True)
    params = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=shared[f.name])
              for f in fields(SessionOptions)]
    params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=own[p.name])
               for p in inspect.signature(command).parameters.values() if p.name != "session"]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        session = SessionOptions(**{f.name: kwargs.pop(f.name) for f in fields(SessionOptions)})
        command(session=session, **kwargs)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


OtherVenueOpt = Annotated[bool, typer.Option(
    "--models-from-other-venue", help="Load checkpoints trained on another venue kind (e.g. SIM weights into LIVE).")]


def build_engine(settings, data: Optional[list[Path]], models_from_other_venue: bool = False):
    """The one factory both front ends use."""
    from engine.config import ConfigError
    from engine.runtime.wiring import create_engine

    try:
        return create_engine(settings, data=data, models_from_other_venue=models_from_other_venue)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))


@contextlib.contextmanager
def workspace_claimed(settings):
    """Hold the session's workspace for the whole session; exit 2 when another process has it."""
    from engine.runtime.lock import WorkspaceBusy
    from engine.runtime.workspace import claim

    try:
        lock = claim(settings)
    except WorkspaceBusy as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use the workspace: {exc}")
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


@app.callback()
@session_options
def main(
    ctx: typer.Context,
    session: SessionOptions,
    live_orders: bool = typer.Option(False, "--live-orders", help="Send real orders (asks for confirmation)."),
    models_from_other_venue: OtherVenueOpt = False,
) -> None:
    """Open the TUI on the configured venue (default: the simulated market, SIM)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = session.settings(live_orders)
    check_ledger(settings.db_path)
    with workspace_claimed(settings):
        from tui.logbuffer import LogBuffer

        startup_log = LogBuffer.attached()  # the log pane shows what building the engine logged (checkpoint loads)
        engine = build_engine(settings, session.data, models_from_other_venue)
        from engine.runtime.workspace import private_file
        from tui.app import TickdeskApp

        log_file = private_file(Path(settings.db_path).with_suffix(".log"))
        configure_logging(level=logging.WARNING, filename=str(log_file))
        tui = TickdeskApp(engine, log_buffer=startup_log)

        def quit_cleanly(signum, frame) -> None:  # SIGTERM / SIGHUP: the app's exit closes the engine
            if signum == signal.SIGHUP:
                tui.lose_terminal()
            try:
                asyncio.get_running_loop().call_soon_threadsafe(tui.exit)
            except RuntimeError:  # the app's loop is not running yet (or any more): nothing to save
                raise SystemExit(0) from None

        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, quit_cleanly)
        tui.run()


@app.command()
@session_options
def run(
    session: SessionOptions,
    live_orders: bool = typer.Option(False, "--live-orders", help="Send real orders (needs --yes-i-mean-it)."),
    yes: bool = typer.Option(False, "--yes-i-mean-it", help="Confirm --live-orders without a prompt."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Seconds of event time to run."),
    summary_json: Optional[Path] = typer.Option(None, "--summary-json", help="Write the session summary here."),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG | INFO | WARNING"),
    models_from_other_venue: OtherVenueOpt = False,
) -> None:
    """Run the engine headless (no UI): progress on stderr, summary as JSON. SIGTERM, SIGHUP
    and SIGINT stop it cleanly (training drained, checkpoints saved, summary written, exit 0)."""
    if duration is not None and not 0 < duration < float("inf"):
        fail("--duration must be a finite number of seconds > 0")
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        fail(f"--log-level: unknown level {log_level!r}")
    configure_logging(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if live_orders and not yes:
        fail("--live-orders sends real orders: add --yes-i-mean-it to confirm")
    settings = session.settings(live_orders)
    check_ledger(settings.db_path)
    with workspace_claimed(settings):
        engine = build_engine(settings, session.data, models_from_other_venue)
        engine.orders_confirmed = True  # paper, or live confirmed with --yes-i-mean-it
        from engine.runtime.headless import run_headless

        try:
            summary = asyncio.run(run_headless(engine, duration, summary_json))
        except KeyboardInterrupt:  # only before the loop's own handlers are in place
            fail("interrupted", 1)
        except Exception as exc:  # a runtime failure: one line, exit 1, details in the log
            logging.getLogger("tickdesk").exception("run failed")
            fail(f"run failed: {exc}", 1)
    if summary_json is None:
        typer.echo(json.dumps(summary, indent=2))


@app.command()
def evaluate(
    data: Annotated[list[Path], typer.Option("--data", help="Bar file (kline CSV/zip) to evaluate on (repeatable).")],
    folds: Optional[int] = typer.Option(None, "--folds", help="K walk-forward folds (default: the config's evaluation.folds)."),
    train_days: Optional[float] = typer.Option(None, "--train-days", help="W: days of training before each cut."),
    test_days: Optional[int] = typer.Option(None, "--test-days", help="D: whole days from the cut to the test end."),
    embargo_min: Optional[float] = typer.Option(None, "--embargo-min", help="E: minutes from the cut to the test start."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Model seeds per fold and variant."),
    jobs: Optional[int] = typer.Option(None, "--jobs", help="Worker processes (default: the number of cores)."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run the jobs on Ray: 'local' or a cluster address."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the result JSON here too."),
    config: ConfigOpt = None,
    from_workspace: bool = typer.Option(False, "--from-workspace",
                                        help="Start every fold from the workspace's checkpoints (copied)."),
) -> None:
    """Walk-forward evaluation: did the models learn, and is there an edge after costs?"""
    from engine.evaluation.pool import RayUnavailable, default_cache, default_jobs
    from engine.evaluation.report import FoldProgress, render, report_console
    from engine.evaluation.runner import EvaluationError, Request, evaluate as run_evaluation, write_result

    settings = SessionOptions(config=config).settings()
    e = settings.evaluation
    if jobs is not None and jobs < 1:
        fail("--jobs must be >= 1")
    for name, value in (("--folds", folds), ("--test-days", test_days), ("--seeds", seeds)):
        if value is not None and value < 1:
            fail(f"{name} must be >= 1")
    req = Request(data=list(data), settings=settings, folds=folds or e.folds, train_days=train_days or e.train_days,
                  test_days=test_days or e.test_days, embargo_min=e.embargo_min if embargo_min is None else embargo_min,
                  seeds=seeds or e.seeds, jobs=jobs or default_jobs(), ray=ray, from_workspace=from_workspace)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    progress = FoldProgress(report_console(stderr=True))
    try:
        result = run_evaluation(req, default_cache(), on_plan=progress.plan, on_done=progress.done)
    except EvaluationError as exc:
        fail(str(exc))
    except RayUnavailable as exc:
        fail(str(exc), 1)
    except KeyboardInterrupt:
        fail("interrupted", 1)
    finally:
        progress.stop()
    latest = write_result(result, settings.db_path, json_out)
    render(result, report_console())
    typer.echo(f"result: {json_out or latest} (and {latest} for the TUI)" if json_out else f"result: {latest}")


@app.command()
def trades(
    as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per closed trade with its signal, reward and training."),
    db: DbOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    limit: Optional[int] = typer.Option(None, "--limit", help="Newest N trades only."),
) -> None:
    """List closed trades with their signals, rewards and training (works while a session runs)."""
    path = SessionOptions(config=config, db=db, workspace=workspace).settings().db_path
    if not path.exists():
        fail(f"no ledger at {path}")
    check_ledger(path)
    from engine.views.trades_report import load_trades, render_table

    rows = asyncio.run(load_trades(path, limit))
    typer.echo(json.dumps(rows, indent=2) if as_json else render_table(rows))


@db_app.command("stats")
def db_stats(
    db: DbOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Sizes (file, WAL, free pages) and rows per table; read-only, works while a session runs."""
    from engine.views.ledger_size import format_stats, ledger_stats

    path = SessionOptions(config=config, db=db, workspace=workspace).settings().db_path
    if not path.exists():
        fail(f"no ledger at {path}")
    result = asyncio.run(ledger_stats(path))
    _print(result, as_json, format_stats(result))


@db_app.command("vacuum")
def db_vacuum(
    db: DbOpt = None,
    workspace: WorkspaceOpt = None,
    config: ConfigOpt = None,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Prune decisions nothing needs (`[storage] decision_retention_s`), then reclaim the space.
    Needs the workspace: refused (exit 2) while a session holds it."""
    from engine.views.ledger_size import format_vacuum, prune_and_vacuum

    settings = SessionOptions(config=config, db=db, workspace=workspace).settings()
    if not settings.db_path.exists():
        fail(f"no ledger at {settings.db_path}")
    with workspace_claimed(settings):
        result = asyncio.run(prune_and_vacuum(settings.db_path, settings.storage.decision_retention_s))
    _print(result, as_json, format_vacuum(result))


def _print(result: dict, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(result, indent=2, default=str) if as_json else text)


@bench_app.command("models")
def bench_models(
    device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Inference latency (one decision, all three models) and training updates/s."""
    if device not in ("cpu", "cuda"):
        fail("--device must be cpu or cuda")
    from models.bench import format_models_bench, run_models_bench
    from models.errors import ModelsUnavailable

    try:
        result = run_models_bench(device)
    except ModelsUnavailable as exc:
        fail(str(exc), 1)
    _print(result, as_json, format_models_bench(result))


@bench_app.command("state")
def bench_state(as_json: bool = typer.Option(False, "--json")) -> None:
    """State build time p50/p99 for the full feature vector, and its dimension."""
    from engine.bench.state import format_state_bench, run_state_bench

    try:
        result = run_state_bench()
    except FileNotFoundError as exc:
        fail(str(exc), 1)
    _print(result, as_json, format_state_bench(result))


@bench_app.command("replay")
def bench_replay(
    data: DataOpt = None,
    runs: int = typer.Option(1, "--runs", min=1, max=20, help="Run every stage this many times; best and range."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Replay stages (gunzip, stdlib json floor, venue parse, full pipeline) and ratios to the floor."""
    from engine.bench.replay import default_files, format_replay_bench, run_replay_bench

    data = data or default_files()
    missing = [str(p) for p in data if not Path(p).exists()]
    if missing:
        fail(f"--data: file not found: {', '.join(missing)}")
    result = run_replay_bench(list(data), runs=runs)
    _print(result, as_json, format_replay_bench(result))


@bench_app.command("all")
def bench_all(
    device: str = typer.Option("cpu", "--device", help="cpu | cuda (for the models benchmark)"),
    runs: int = typer.Option(1, "--runs", min=1, max=20, help="Replay stages run this many times; best and range."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every benchmark (replay, state, models) and one table of figures, bars and hardware."""
    if device not in ("cpu", "cuda"):
        fail("--device must be cpu or cuda")
    from engine.bench.replay import default_files, run_replay_bench
    from engine.bench.state import run_state_bench
    from engine.bench.summary import format_summary, run_summary
    from models.bench import run_models_bench
    from models.errors import ModelsUnavailable

    files = default_files()
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        fail(f"recorded market data not found: {', '.join(missing)}", 1)
    replay = run_replay_bench(files, runs=runs)
    state = run_state_bench()
    try:
        models = run_models_bench(device)
    except ModelsUnavailable as exc:
        fail(str(exc), 1)
    result = run_summary(replay, state, models)
    _print(result, as_json, format_summary(result))


@app.command()
def record(
    exchange: str = typer.Option("binance", "--exchange"),
    symbols: str = typer.Option("ETH/USDT,BTC/USDT", "--symbols"),
    out: Path = typer.Option(..., "--out", help="Folder for the recording (replay reads it with --data)."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Seconds to record (default: until Ctrl-C)."),
) -> None:
    """Record a live session (trades, book snapshots and diffs) in a format replay reads."""
    syms = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if not syms:
        fail("--symbols is empty")
    configure_logging(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from engine.venues.recorder import Recorder

    try:
        summary = asyncio.run(Recorder(exchange, syms, out).run(duration))
    except KeyboardInterrupt:
        return
    except Exception as exc:
        fail(f"recording failed: {exc}", 1)
    typer.echo(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    app()
