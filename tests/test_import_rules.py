"""Layering: engine/, models/, storage/ and the headless command never import textual;
`tickdesk --help` imports neither textual nor torch."""

import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import sys, pkgutil, importlib
import engine, storage, models
for pkg in (engine, storage):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if m.name.endswith(("live", "live_orders", "recorder")):
            continue  # ccxt-backed; checked below without network
        importlib.import_module(m.name)
import cli
from engine.runtime import headless, wiring
print("textual" in sys.modules, "torch" in sys.modules)
"""


def run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)


def test_engine_storage_and_headless_never_import_textual():
    proc = run(PROBE)
    assert proc.returncode == 0, proc.stderr
    textual, torch = proc.stdout.split()
    assert textual == "False" and torch == "False"


def test_no_textual_import_statement_in_core_packages():
    for pkg in ("engine", "models", "storage"):
        for path in (REPO / pkg).rglob("*.py"):
            for line in path.read_text().splitlines():
                stripped = line.strip()
                assert not stripped.startswith(("import textual", "from textual")), f"{path}: {line}"


def test_help_is_light():
    code = "import sys; sys.argv=['tickdesk','--help']\nimport cli\ntry:\n cli.app()\nexcept SystemExit: pass\nprint('textual' in sys.modules, 'torch' in sys.modules)"
    proc = run(code)
    assert proc.stdout.strip().splitlines()[-1] == "False False"
