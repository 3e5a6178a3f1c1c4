"""`tickdesk`: the TUI by default; `tickdesk run` headless; `trades`, `bench`, `record`.

Kept import-light: textual is imported only for the TUI and torch only by commands that run
models, so `tickdesk --help` is instant and `tickdesk run` never loads textual.
Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config (one-line reason).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
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


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"tickdesk: error: {message}", err=True)
    raise typer.Exit(code)


ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="A TOML file overriding the shipped and user config.")]
DataOpt = Annotated[Optional[list[Path]], typer.Option("--data", help="Recorded data file for --venue replay (repeatable).")]
DbOpt = Annotated[Optional[Path], typer.Option("--db", help="SQLite ledger path (default: user data dir).")]


@dataclass(frozen=True)
class SessionOptions:
    """The options shared by the commands that run the engine (`tickdesk` and `tickdesk run`),
    declared once here; `session_options` adds them to a command. `trades` uses two of them."""

    config: ConfigOpt = None
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


def build_engine(settings, data: Optional[list[Path]]):
    """The one factory both front ends use."""
    from engine.config import ConfigError
    from engine.runtime.wiring import create_engine

    try:
        return create_engine(settings, data=data)
    except (ConfigError, ValueError) as exc:
        fail(str(exc))


@app.callback()
@session_options
def main(
    ctx: typer.Context,
    session: SessionOptions,
    live_orders: bool = typer.Option(False, "--live-orders", help="Send real orders (asks for confirmation)."),
) -> None:
    """Open the TUI on the configured venue (default: the simulated market, SIM)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = session.settings(live_orders)
    from tui.logbuffer import LogBuffer

    startup_log = LogBuffer.attached()  # the log pane shows what building the engine logged (checkpoint loads)
    engine = build_engine(settings, session.data)
    from tui.app import TickdeskApp

    logging.basicConfig(level=logging.WARNING, filename=str(Path(settings.db_path).with_suffix(".log")))
    TickdeskApp(engine, log_buffer=startup_log).run()


@app.command()
@session_options
def run(
    session: SessionOptions,
    live_orders: bool = typer.Option(False, "--live-orders", help="Send real orders (needs --yes-i-mean-it)."),
    yes: bool = typer.Option(False, "--yes-i-mean-it", help="Confirm --live-orders without a prompt."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Seconds of event time to run."),
    summary_json: Optional[Path] = typer.Option(None, "--summary-json", help="Write the session summary here."),
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG | INFO | WARNING"),
) -> None:
    """Run the engine headless (no UI): progress on stderr, summary as JSON."""
    if duration is not None and not duration > 0:
        fail("--duration must be > 0 seconds")
    level = getattr(logging, log_level.upper(), None)
    if not isinstance(level, int):
        fail(f"--log-level: unknown level {log_level!r}")
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if live_orders and not yes:
        fail("--live-orders sends real orders: add --yes-i-mean-it to confirm")
    settings = session.settings(live_orders)
    engine = build_engine(settings, session.data)
    engine.orders_confirmed = True  # paper, or live confirmed with --yes-i-mean-it
    from engine.runtime.headless import run_headless

    try:
        summary = asyncio.run(run_headless(engine, duration, summary_json))
    except KeyboardInterrupt:
        fail("interrupted", 1)
    except Exception as exc:  # a runtime failure: one line, exit 1, details in the log
        logging.getLogger("tickdesk").exception("run failed")
        fail(f"run failed: {exc}", 1)
    if summary_json is None:
        typer.echo(json.dumps(summary, indent=2))


@app.command()
def trades(
    as_json: bool = typer.Option(False, "--json", help="Print JSON: one object per closed trade with its signal, reward and training."),
    db: DbOpt = None,
    config: ConfigOpt = None,
    limit: Optional[int] = typer.Option(None, "--limit", help="Newest N trades only."),
) -> None:
    """List closed trades with their signals, rewards and training."""
    path = SessionOptions(config=config, db=db).settings().db_path
    if not path.exists():
        fail(f"no ledger at {path}")
    from engine.views.trades_report import load_trades, render_table

    rows = asyncio.run(load_trades(path, limit))
    typer.echo(json.dumps(rows, indent=2) if as_json else render_table(rows))


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
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Replay throughput: parse-only events/s against the full engine pipeline (models off)."""
    from engine.bench.replay import default_files, end_to_end, format_replay_bench, run_replay_bench

    data = data or default_files()
    missing = [str(p) for p in data if not Path(p).exists()]
    if missing:
        fail(f"--data: file not found: {', '.join(missing)}")
    result = run_replay_bench(list(data))
    events, seconds = end_to_end(list(data))
    result["pipeline"] = {"events": events, "seconds": seconds, "events_per_s": events / seconds}
    result["parse_to_pipeline_ratio"] = result["events_per_s"] / result["pipeline"]["events_per_s"]
    text = format_replay_bench(result) + (
        f"\nreplay end-to-end (engine, models off): {events:,} events in {seconds:.2f} s ->"
        f" {events / seconds:,.0f} events/s; parse-only is {result['parse_to_pipeline_ratio']:.2f}x faster"
    )
    _print(result, as_json, text)


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
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
