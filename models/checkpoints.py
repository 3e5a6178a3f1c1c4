"""Crash-safe checkpoints, one file per model.

Save writes a temp file in the same directory, fsyncs it, os.replace()s it over the old
file and fsyncs the directory, so a kill -9 leaves either the old or the new checkpoint,
never a torn one (a kill between the two leaves a `.<name>.*.tmp`, removed at the next
load: only the workspace's lock holder writes here). Load never raises into the app: an
unreadable, corrupted, schema-mismatched file, or one with a NaN or inf anywhere in its
weights or optimizer state, is renamed to `<name>.bad-<n>`, a warning is logged, and the
caller starts that model fresh.

Provenance: a checkpoint names the venue kinds it was ever trained on (`data_sources`), the
data of its last session (`data_detail`) and the closed trades whose outcome it learnt
(`trade_outcomes`), so a start can reconcile it against the ledger.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from engine.features.schema import SCHEMA

log = logging.getLogger("models.checkpoints")

FORMAT = 1
REQUIRED = ("format", "model", "schema_fingerprint", "schema_version", "model_version",
            "data_source", "data_sources", "counts", "state", "optimizer")


class ForeignModels(RuntimeError):
    """The checkpoints were trained on another venue kind (SIM weights in a LIVE session) and
    the session did not ask for them (`--models-from-other-venue`)."""


def checkpoint_path(directory: Path, model: str) -> Path:
    return Path(directory) / f"{model}.pt"


def save_checkpoint(
    path: Path,
    *,
    model: str,
    state: dict[str, Any],
    optimizer: dict[str, Any],
    model_version: int,
    data_source: str,
    data_sources: list[str],
    counts: dict[str, int],
    trade_outcomes: list[str] | None = None,
    data_detail: str = "",
) -> None:
    """Atomically write one model's checkpoint. `state` maps module names to state dicts;
    `data_sources` is every source this model was ever trained on ("sim"/"replay"/"live")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "model": model,
        "schema_fingerprint": SCHEMA.fingerprint,
        "schema_version": SCHEMA.version,
        "model_version": int(model_version),
        "data_source": data_source,
        "data_sources": sorted(set(data_sources) | {data_source}),
        "counts": dict(counts),
        "trade_outcomes": sorted(trade_outcomes or ()),
        "data_detail": data_detail,
        "saved_at": time.time(),
        "state": state,
        "optimizer": optimizer,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(path: Path, model: str) -> dict[str, Any] | None:
    """The checkpoint payload, or None when there is none or it was set aside."""
    return read_checkpoint(path, model)[0]


def read_checkpoint(path: Path, model: str) -> tuple[dict[str, Any] | None, str | None]:
    """(payload, None) for a good file; (None, why) when it was set aside; (None, None)
    when there is none (a dangling link counts as none and is said so)."""
    path = Path(path)
    if not path.exists():
        if path.is_symlink():
            log.warning("checkpoint %s is a link to a missing file; the model starts fresh", path)
            return None, "is a link to a missing file"
        return None, None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        problem = _problem(payload, model)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is set aside, never raised
        problem = f"unreadable ({type(exc).__name__}: {exc})"
    if problem is None:
        return payload, None
    set_aside(path, problem)
    return None, problem


def remove_stale_temps(directory: Path) -> int:
    """Delete temp files a killed save left behind; returns how many."""
    stale = list(Path(directory).glob(".*.pt.*.tmp")) if Path(directory).is_dir() else []
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temp file(s) a killed checkpoint save left in %s", len(stale), directory)
    return len(stale)


def set_aside(path: Path, reason: str) -> Path:
    """Rename a bad checkpoint to `<name>.bad-<n>` (first free n) and log why."""
    n = 1
    while (bad := path.with_name(f"{path.name}.bad-{n}")).exists():
        n += 1
    os.replace(path, bad)
    log.warning("checkpoint %s %s; moved to %s, the model starts fresh", path, reason, bad.name)
    return bad


def _problem(payload: Any, model: str) -> str | None:
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED):
        return "is not a tickdesk checkpoint (missing fields)"
    if payload["format"] != FORMAT or payload["model"] != model:
        return f"has format {payload['format']} for model {payload['model']!r}, expected {FORMAT} for {model!r}"
    if payload["schema_fingerprint"] != SCHEMA.fingerprint:
        return (f"was saved under feature schema {payload['schema_fingerprint']} (v{payload['schema_version']}), "
                f"current is {SCHEMA.fingerprint} (v{SCHEMA.version})")
    return _non_finite(payload)


def _non_finite(payload: dict[str, Any]) -> str | None:
    """Where a NaN or inf sits in the weights or the optimizer state, if anywhere: such a
    file loads, then disables every prediction of every session that loads it."""
    def walk(value: Any, where: str) -> str | None:
        if isinstance(value, torch.Tensor):
            ok = not value.is_floating_point() or bool(torch.isfinite(value).all())
            return None if ok else where
        if isinstance(value, dict):
            return next((w for k, v in value.items() if (w := walk(v, f"{where}.{k}")) is not None), None)
        if isinstance(value, (list, tuple)):
            return next((w for i, v in enumerate(value) if (w := walk(v, f"{where}[{i}]")) is not None), None)
        return None

    where = walk(payload["state"], "state") or walk(payload["optimizer"], "optimizer")
    return None if where is None else f"has non-finite values (NaN or inf) in {where}"
