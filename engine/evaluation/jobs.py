"""Run one evaluation job: a fold's span replayed in a temporary workspace, read back as data.

`run_job(spec)` is a pure function of its spec (spec.py): it slices every data file to the
fold's replay span, builds settings from the spec alone (never the user's files), points the
ledger and the checkpoints into a fresh temporary folder (a copy of the workspace's
checkpoints with --from-workspace, so the originals are never written), runs the engine
headless at full speed in lockstep with auto-trading on, and returns what the statistics need
as JSON-able data: every closed trade, the signals of the test span with their predicted
probabilities and 15-minute labels, what the training controls let through, and the fill
model. The folder is removed afterwards. It runs in a worker process (or on a Ray worker), so
it takes and returns plain dicts.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.config import Settings, load_settings
from engine.evaluation.ledger_rows import read_signals, read_trades
from engine.evaluation.plan import Fold
from engine.evaluation.spec import DataFile, JobSpec, learning_keys
from engine.venues.klines import read_bars
from engine.venues.symbols import symbol_from_name

CSV_HEADER = "open_time_ms,open,high,low,close,volume\n"


def slice_bars(source: Path, start_ns: int, end_ns: int, folder: Path) -> Path:
    """The bars of `source` that open in [start_ns, end_ns), as a CSV the replay reads (the
    symbol and timeframe tokens kept in the name)."""
    symbol = symbol_from_name(source)
    bars = [b for b in read_bars(source) if start_ns <= b.ts_ns < end_ns]
    if not bars:
        raise ValueError(f"{source.name}: no bars in the fold's span")
    token = symbol.replace("/", "").lower() if symbol else source.stem
    out = folder / f"{token}_{bars[0].timeframe}_slice.csv"
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(CSV_HEADER)
        for b in bars:
            fh.write(f"{b.ts_ns // 1_000_000},{b.open!r},{b.high!r},{b.low!r},{b.close!r},{b.volume!r}\n")
    return out


def job_settings(spec: JobSpec, workdir: Path) -> Settings:
    data = {section: dict(values) for section, values in spec.settings.items()}
    data.setdefault("storage", {})["db"] = str(workdir / "ledger.db")
    models = data.setdefault("models", {})
    models.update(checkpoint_dir=str(workdir / "checkpoints"), auto_trade=True, enabled=True)
    data.setdefault("engine", {})["speed"] = "max"
    data.setdefault("venue", {})["kind"] = "replay"
    data.setdefault("sim", {})["seed"] = spec.seed
    data["learning"] = learning_keys(spec.variant, spec.fold)
    # the plan's keys are not in the spec (the fold is): a job runs under the shipped ones
    data["evaluation"] = load_settings(use_user_config=False).evaluation.model_dump()
    return Settings.model_validate(data)


async def _replay(settings: Settings, files: list[Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    from engine.runtime.headless import run_headless
    from engine.runtime.wiring import create_engine

    engine = create_engine(settings, data=files, wall=time.monotonic)
    if engine.trainer is None:
        await engine.close()
        raise RuntimeError(f"the models cannot run: {engine.models_status}")
    controls = engine.trainer
    summary = await run_headless(engine, None, None, progress=io.StringIO())
    counts = {"trained": dict(getattr(controls, "trained", {})), "dropped": dict(getattr(controls, "dropped", {}))}
    return summary, counts


def run_job(spec: JobSpec) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tickdesk-eval-") as tmp:
        workdir = Path(tmp)
        start, end = spec.fold.replay_span
        files = [slice_bars(Path(d.path), start, end, workdir) for d in spec.data]
        if spec.checkpoints:
            shutil.copytree(spec.checkpoints, workdir / "checkpoints")
        settings = job_settings(spec, workdir)
        summary, counts = asyncio.run(_replay(settings, files))
        db = workdir / "ledger.db"
        trades = read_trades(db)
        signals = read_signals(db, spec.fold.test_start_ns, spec.fold.test_end_ns)
    return {
        "key": spec.key, "fold": spec.fold.index, "variant": spec.variant, "seed": spec.seed,
        "trades": trades, "signals": signals, "training": counts,
        "fill_model": summary["fill_model"], "training_lag_event_s": summary["training_lag_event_s"],
        "decisions": summary["signals"], "models_status": summary["models_status"],
        "wall_s": time.perf_counter() - started,
    }


def spec_from_dict(d: dict[str, Any]) -> JobSpec:
    """The inverse of `spec_to_dict`: how a spec crosses into a worker process or a Ray task."""
    return JobSpec(data=tuple(DataFile(**f) for f in d["data"]), settings=d["settings"], fold=Fold(**d["fold"]),
                   variant=d["variant"], seed=d["seed"], code=d["code"], checkpoints=d.get("checkpoints"),
                   checkpoints_sha256=d.get("checkpoints_sha256"))


def spec_to_dict(spec: JobSpec) -> dict[str, Any]:
    return {"data": [f.__dict__ for f in spec.data], "settings": spec.settings, "fold": spec.fold.__dict__,
            "variant": spec.variant, "seed": spec.seed, "code": spec.code, "checkpoints": spec.checkpoints,
            "checkpoints_sha256": spec.checkpoints_sha256}


def run_job_dict(d: dict[str, Any]) -> dict[str, Any]:
    """`run_job` on a spec as plain data (the pool's and Ray's entry point)."""
    return run_job(spec_from_dict(d))
