"""Layering, read from the source: an AST import graph over engine/, models/, storage/, tui/
and cli.py, counting every import statement wherever it sits (module level, inside a
function, under `if TYPE_CHECKING:`), plus `importlib.import_module("...")` with a literal.

The engine's stages, left to right; a module may import its own stage and stages to its left:

    engine.core < engine.config = engine.paths < engine.venues < engine.market
    < engine.features < engine.decision < engine.trading < engine.learning < engine.views
    < engine.runtime < engine.evaluation < engine.bench

storage imports nothing from the engine; models import only engine.core.*,
engine.features.schema and engine.decision.ports (the seam); only the composition root
engine/runtime/wiring.py imports models; tui imports from the engine only the views, the
core vocabulary, the Engine type and OrderRejected. No import cycles. engine/, models/ and
storage/ never import textual; engine/ and storage/ never import torch; `tickdesk --help`
imports neither. Modules stay under 350 lines; engine/ holds at most four modules directly.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("engine", "models", "storage", "tui")
MAX_LINES = 350
MAX_TOP_LEVEL_ENGINE_MODULES = 4

STAGES: tuple[tuple[str, ...], ...] = (
    ("engine.core",),
    ("engine.config", "engine.paths"),
    ("engine.venues",),
    ("engine.market",),
    ("engine.features",),
    ("engine.decision",),
    ("engine.trading",),
    ("engine.learning",),
    ("engine.views",),
    ("engine.runtime",),
    ("engine.evaluation",),
    ("engine.bench",),
)
MODELS_MAY_IMPORT = ("engine.core", "engine.features.schema", "engine.decision.ports")
MODELS_IMPORTED_ONLY_BY = ("engine.runtime.wiring",)  # engine/bench reaches the models through wiring
TUI_MAY_IMPORT = ("engine.views", "engine.core", "engine.runtime.engine", "engine.trading.paper")


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def sources() -> dict[str, Path]:
    """Every first-party module name -> its file."""
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")] + [REPO / "cli.py"]
    return {_module_name(p): p for p in sorted(files)}


def _resolve(base: str, name: str, known: dict[str, Path]) -> str:
    """`from base import name`: the submodule when `name` is one, else `base` itself."""
    candidate = f"{base}.{name}" if base else name
    return candidate if candidate in known else base


@cache
def imports_of(module: str) -> tuple[tuple[str, int], ...]:
    """(imported module, line) for every import in `module`, anywhere in the file."""
    path = sources()[module]
    known = sources()
    is_package = path.name == "__init__.py"
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = ".".join(p for p in (package, node.module) if p)
            else:
                base = node.module or ""
            if base == "__future__":
                continue
            out += [(_resolve(base, alias.name, known), node.lineno) for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__")))):
            out.append((node.args[0].value, node.lineno))
    return tuple(out)


def first_party_imports(module: str) -> list[tuple[str, int]]:
    """(first-party module, line) for `module`'s imports; a package name stands for its __init__,
    and `import engine.core.clock.something_else` falls back to the nearest module named."""
    known = sources()
    out = []
    for target, line in imports_of(module):
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target:
            out.append((target, line))
    return out


def first_party_edges() -> dict[str, set[str]]:
    return {m: {t for t, _ in first_party_imports(m)} for m in sources()}


def stage_of(module: str) -> int | None:
    if module == "engine":
        return 0  # the package root: importing it runs engine/__init__.py, which must stay bare
    for rank, prefixes in enumerate(STAGES):
        if any(_within(module, p) for p in prefixes):
            return rank
    return None


def where(module: str, line: int) -> str:
    return f"{sources()[module].relative_to(REPO)}:{line}"


def violations(rule) -> list[str]:
    """`rule(source, target)` -> a reason string for every forbidden first-party import."""
    out = []
    for module in sources():
        for target, line in imports_of(module):
            if target.split(".")[0] not in (*PACKAGES, "cli"):
                continue
            reason = rule(module, target)
            if reason:
                out.append(f"{where(module, line)}: {module} imports {target}: {reason}")
    return out


# -- the stages of the engine -----------------------------------------------------------------


def test_every_engine_module_belongs_to_a_stage():
    unplaced = [m for m in sources() if _within(m, "engine") and stage_of(m) is None]
    assert not unplaced, f"modules in no stage (add them to a stage subpackage): {unplaced}"


def test_engine_stages_import_only_their_own_stage_and_stages_to_their_left():
    def rule(src: str, dst: str) -> str | None:
        if not (_within(src, "engine") and _within(dst, "engine")):
            return None
        s, d = stage_of(src), stage_of(dst)
        if s is None or d is None:
            return "outside every stage"
        if d > s:
            return f"stage {STAGES[d]} is right of {STAGES[s]}"
        return None

    bad = violations(rule)
    assert not bad, "engine layer order broken:\n" + "\n".join(bad)


def test_engine_core_imports_nothing_else_from_the_engine():
    bad = violations(lambda s, d: "core is the bottom layer"
                     if _within(s, "engine.core") and _within(d, "engine") and not _within(d, "engine.core") else None)
    assert not bad, "\n".join(bad)


def test_engine_never_imports_the_front_ends():
    bad = violations(lambda s, d: "the engine knows no front end"
                     if _within(s, "engine") and (_within(d, "tui") or d == "cli") else None)
    assert not bad, "\n".join(bad)


# -- storage, models, tui ---------------------------------------------------------------------


def test_storage_imports_nothing_from_engine_models_or_front_ends():
    bad = violations(lambda s, d: "storage is a leaf" if _within(s, "storage") and not _within(d, "storage") else None)
    assert not bad, "\n".join(bad)


def test_models_import_only_the_seam_from_the_engine():
    def rule(src: str, dst: str) -> str | None:
        if not _within(src, "models"):
            return None
        if _within(dst, "engine") and not any(_within(dst, p) for p in MODELS_MAY_IMPORT):
            return f"models may import only {MODELS_MAY_IMPORT}"
        if _within(dst, "tui") or _within(dst, "storage") or dst == "cli":
            return "models know neither storage nor the front ends"
        return None

    bad = violations(rule)
    assert not bad, "\n".join(bad)


def test_only_the_composition_root_imports_models():
    bad = violations(lambda s, d: f"only {MODELS_IMPORTED_ONLY_BY} may"
                     if _within(s, "engine") and _within(d, "models") and s not in MODELS_IMPORTED_ONLY_BY else None)
    assert not bad, "\n".join(bad)


def test_tui_imports_from_the_engine_only_views_vocabulary_and_the_engine_type():
    used = sorted({d for m in sources() if _within(m, "tui") for d, _ in imports_of(m) if _within(d, "engine")})
    print("engine modules the tui imports:", used)
    assert used, "the tui renders engine snapshots; finding none means the graph is not being read"

    def rule(src: str, dst: str) -> str | None:
        if not _within(src, "tui"):
            return None
        if _within(dst, "engine") and not any(_within(dst, p) for p in TUI_MAY_IMPORT):
            return f"the tui may import only {TUI_MAY_IMPORT} (it uses {used})"
        if _within(dst, "models") or _within(dst, "storage"):
            return "the tui talks to the engine, not to models or storage"
        return None

    bad = violations(rule)
    assert not bad, "\n".join(bad)


# -- the whole graph --------------------------------------------------------------------------


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan, recursive: the graph is ~100 modules deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_including_function_local_imports():
    graph = first_party_edges()
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100, "the import graph looks empty"
    cycles = _cycles(graph)
    detail = []
    for comp in cycles:
        members = set(comp)
        edges = [f"  {where(m, line)}: {m} -> {t}" for m in comp for t, line in first_party_imports(m) if t in members]
        detail.append(" <-> ".join(comp) + "\n" + "\n".join(edges))
    assert not cycles, "import cycles:\n" + "\n".join(detail)


def test_core_packages_never_import_textual_and_engine_storage_never_torch():
    forbidden = {"engine": ("textual", "torch"), "storage": ("textual", "torch"), "models": ("textual",)}
    bad = [f"{where(m, line)}: {m} imports {t}"
           for m in sources() for pkg, libs in forbidden.items() if _within(m, pkg)
           for t, line in imports_of(m) if t.split(".")[0] in libs]
    assert not bad, "\n".join(bad)


def test_import_reader_sees_function_local_and_relative_imports(tmp_path, monkeypatch):
    """The rules above are only as good as the reader: it must see imports inside functions."""
    pkg = tmp_path / "engine" / "core"
    pkg.mkdir(parents=True)
    (tmp_path / "engine" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "units.py").write_text("")
    (pkg / "x.py").write_text(
        "from . import units\n"
        "def f():\n    from engine.runtime import engine\n    import textual.app\n"
        "def g():\n    import importlib\n    importlib.import_module('torch')\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    sources.cache_clear()
    imports_of.cache_clear()
    monkeypatch.setattr(sys.modules[__name__], "PACKAGES", ("engine",))
    try:
        (tmp_path / "cli.py").write_text("")
        got = {t for t, _ in imports_of("engine.core.x")}
        assert got == {"engine.core.units", "engine.runtime", "textual.app", "importlib", "torch"}
    finally:
        sources.cache_clear()
        imports_of.cache_clear()


# -- size -------------------------------------------------------------------------------------


def test_no_module_over_350_lines():
    long = {str(p.relative_to(REPO)): n for m, p in sources().items() if m != "cli"
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them): {long}"


def test_at_most_four_modules_directly_in_engine():
    top = sorted(p.name for p in (REPO / "engine").glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_ENGINE_MODULES, f"engine/ holds {top}; new code goes into a stage subpackage"


# -- at run time ------------------------------------------------------------------------------

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


def test_help_is_light():
    code = "import sys; sys.argv=['tickdesk','--help']\nimport cli\ntry:\n cli.app()\nexcept SystemExit: pass\nprint('textual' in sys.modules, 'torch' in sys.modules)"
    proc = run(code)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout, "the help text itself must come out"
    assert proc.stdout.strip().splitlines()[-1] == "False False"
