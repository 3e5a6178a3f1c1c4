"""What one evaluation job is, as plain data, and the key that names its result.

A job is one (fold, variant, seed): replay the fold's span of the data with fresh models (or
a copy of the workspace's checkpoints), training as the variant says, and report its trades
and signals. Its spec holds everything the result depends on: the data files' SHA-256 (not
their paths), the settings (without the temporary ledger and checkpoint paths), the fold, the
variant, the seed and the code version (a hash over the source and the shipped config). Its
key is the spec's hash (trials.spec_hash), so a finished job's cached result is reused
exactly when nothing it depends on changed, wherever the files now live.

Variants and the `[learning]` keys they run under (engine/learning/controls.py):
  frozen     training on until the cut T, then frozen           (the model at T)
  online     training on through the test span                  (keeps learning in the test)
  untrained  training off                                       (same seed, same initial weights)
  shuffled   training on until T with labels shuffled by day    (the leakage control)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import paths
from engine.evaluation.plan import Fold, iso
from engine.evaluation.trials import spec_hash

VARIANTS = ("frozen", "online", "untrained", "shuffled")
# The settings a job runs under that are not the user's choice: where it writes, how fast it runs.
_JOB_ONLY = {"storage": ("db",), "models": ("checkpoint_dir", "auto_trade", "enabled"), "engine": ("speed",),
             "venue": ("kind",), "learning": ("training", "control", "train_until"),
             "evaluation": ("folds", "train_days", "test_days", "embargo_min", "seeds")}  # the plan says these


def learning_keys(variant: str, fold: Fold) -> dict[str, str]:
    """The online variant's `train_until` is the replay's end, which puts the controls'
    counters on it too; it drops only what matures on the very last bar, which no decision
    after it could use."""
    cut = iso(fold.cut_ns)
    return {"frozen": {"training": "on", "control": "none", "train_until": cut},
            "online": {"training": "on", "control": "none", "train_until": iso(fold.test_end_ns)},
            "untrained": {"training": "off", "control": "none", "train_until": ""},
            "shuffled": {"training": "on", "control": "shuffled", "train_until": cut}}[variant]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Evaluation modules that only plan, pool or report: editing them cannot change a job's result.
_NOT_IN_JOBS = ("engine/bench/", "engine/evaluation/")
_IN_JOBS = ("engine/evaluation/jobs.py", "engine/evaluation/ledger_rows.py", "engine/evaluation/spec.py")


def code_version() -> str:
    """SHA-256 (16 hex) over the sources a job runs (engine, models, storage) and the shipped config."""
    root = paths.CODE_ROOT
    h = hashlib.sha256()
    files = sorted(p for pkg in ("engine", "models", "storage") for p in (root / pkg).rglob("*.py")
                   if (rel := p.relative_to(root).as_posix()) in _IN_JOBS or not rel.startswith(_NOT_IN_JOBS))
    for p in [*files, paths.shipped_config()]:
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def user_settings(settings_dump: dict[str, Any]) -> dict[str, Any]:
    """The settings without the keys every job sets for itself (they would only split the cache)."""
    out = {section: dict(values) if isinstance(values, dict) else values for section, values in settings_dump.items()}
    for section, keys in _JOB_ONLY.items():
        for key in keys:
            out.get(section, {}).pop(key, None)
    return out


@dataclass(frozen=True)
class DataFile:
    path: str
    sha256: str


@dataclass(frozen=True)
class JobSpec:
    data: tuple[DataFile, ...]
    settings: dict[str, Any]  # user_settings(...) of the evaluated configuration
    fold: Fold
    variant: str
    seed: int
    code: str
    checkpoints: str | None = None  # --from-workspace: the workspace's checkpoint dir (copied)
    checkpoints_sha256: str | None = None

    def hashed(self) -> dict[str, Any]:
        """What the result depends on: no file paths, only their contents' hashes."""
        return {"data": sorted(d.sha256 for d in self.data), "settings": self.settings,
                "fold": self.fold.as_dict(), "variant": self.variant, "seed": self.seed, "code": self.code,
                "checkpoints": self.checkpoints_sha256}

    @property
    def key(self) -> str:
        return spec_hash(self.hashed())

    def label(self) -> str:
        return f"fold {self.fold.index} {self.variant} seed {self.seed}"


def dir_sha256(folder: Path) -> str | None:
    """A checkpoint folder's contents as one hash (names and bytes); None when it is absent."""
    if not folder.is_dir():
        return None
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(folder)).encode())
        h.update(file_sha256(p).encode())
    return h.hexdigest()[:16]
