"""What a benchmark ran on, stated with every figure it prints.

Lives in engine/core so both the engine's benchmarks and models/bench.py (which may import
engine.core only) describe the machine the same way.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


SIMD = ("avx512f", "avx2", "avx", "neon", "asimd")  # the widest vector unit named, first found


def _cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux) with its family, model and widest
    vector unit, else what platform reports. Why more than the name: a VM that says only
    "AMD EPYC" has been a different generation from one day to the next here, with the same
    benchmark 4x apart; the family and model tell such figures apart."""
    try:
        fields: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                break  # the first processor's block is enough
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        fields = {}
    name = fields.get("model name")
    if not name:
        return platform.processor() or platform.machine() or "unknown"
    flags = set((fields.get("flags") or fields.get("Features") or "").split())
    detail = [f"family {fields['cpu family']} model {fields['model']}"] if "cpu family" in fields and "model" in fields else []
    detail += [s for s in SIMD if s in flags][:1]
    return f"{name} ({', '.join(detail)})" if detail else name


def hardware_info() -> dict:
    """CPU model, logical cores, Python version and OS."""
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "os": platform.platform(terse=True)}
