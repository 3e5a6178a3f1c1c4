"""The trials log: every configuration ever evaluated, so the deflated Sharpe knows N.

Trying many configurations and reporting the best is a search; the best Sharpe of N tries is
biased upwards. The log keeps one JSON line per evaluation, appended and never rewritten:

    {"spec_hash": "<16 hex>", "time_ns": <int>, "sharpe": <float or null>}

spec_hash = the first 16 hex digits of SHA-256 over the spec as canonical JSON (sorted keys,
no spaces), so the same configuration always hashes the same. Reading it back, a
configuration evaluated twice counts once (its latest Sharpe stands): N = distinct spec
hashes, and V = the sample variance (ddof = 1) of their Sharpes, None with fewer than two.
The evaluate command appends the current configuration before it reads, so N includes it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def spec_hash(spec: dict) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def append_trial(path: str | Path, spec: dict, sharpe: float | None, *, time_ns: int | None = None) -> str:
    """Append one line; returns the spec hash. A non-finite Sharpe is written as null."""
    h = spec_hash(spec)
    value = float(sharpe) if sharpe is not None and math.isfinite(sharpe) else None
    line = json.dumps({"spec_hash": h, "time_ns": int(time.time_ns() if time_ns is None else time_ns),
                       "sharpe": value}, separators=(",", ":"))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    return h


@dataclass(frozen=True)
class TrialsSummary:
    n_trials: int  # distinct configurations
    sharpes: tuple[float, ...]  # the latest finite Sharpe of each configuration that has one
    sharpe_variance: float | None

    def as_dict(self) -> dict:
        return {"n_trials": self.n_trials, "sharpe_variance": self.sharpe_variance,
                "sharpes": list(self.sharpes)}


def read_trials(path: str | Path) -> TrialsSummary:
    """N and the Sharpes' variance from the log; an absent log is zero trials.

    A line that is not a JSON object with a spec_hash raises ValueError naming the line: a
    corrupt log must not silently shrink N (which would make the deflation milder)."""
    p = Path(path)
    latest: dict[str, tuple[int, float | None]] = {}
    if p.exists():
        for number, raw in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                h, t, s = str(row["spec_hash"]), int(row.get("time_ns", 0)), row.get("sharpe")
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{p}:{number}: not a trials-log line ({exc})") from None
            if h not in latest or t >= latest[h][0]:
                latest[h] = (t, None if s is None else float(s))
    sharpes = tuple(s for _, s in latest.values() if s is not None and math.isfinite(s))
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) >= 2 else None
    return TrialsSummary(len(latest), sharpes, variance)
