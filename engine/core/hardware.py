"""What a benchmark ran on, stated with every figure it prints.

Lives in engine/core so both the engine's benchmarks and models/bench.py (which may import
engine.core only) describe the machine the same way.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def hardware_info() -> dict:
    """CPU model, logical cores, Python version and OS."""
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "os": platform.platform(terse=True)}
