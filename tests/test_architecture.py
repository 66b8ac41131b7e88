"""The layers of datakit (docs/architecture.md), checked on the source: every import of every
module (at the top, inside functions, under ``TYPE_CHECKING``), relative ones resolved.

* **core** — ``datakit/*.py`` and small packages such as ``datakit/spec/``: imports core only
  (``datakit/status.py`` finds each stage's ``status`` module by name at run time, the one
  registry; it imports none);
* **stages** — ``plan``, ``collect``, ``annotate``, ``check``, ``package``: import core and
  their own modules, never another stage (stages talk through files on disk and core types);
* **top** — ``datakit/cli/`` and ``datakit/__main__.py``: may import
  anything; nothing below imports them. The package root ``datakit/__init__.py`` is the
  library's façade: it re-exports lazily and imports nothing at run time.

Also: no import cycle between modules, and no ``_private`` name (or ``_private`` module)
used outside the module (package) that defines it.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "datakit"
STAGES = ("plan", "collect", "annotate", "check", "package")
TOP = ("cli", "__main__")


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module


@dataclass
class Import:
    source: str  # importing module
    target: str  # imported module
    line: int
    names: list[str] = field(default_factory=list)  # names taken from ``target``
    type_checking: bool = False

    def where(self) -> str:
        return f"{self.source}:{self.line}"


def load_modules(root: Path = ROOT) -> dict[str, Module]:
    mods: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        mods[name] = Module(name, path, is_package, ast.parse(path.read_text("utf-8"), str(path)))
    return mods


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    inside.update(id(n) for n in ast.walk(stmt))
    return inside


def _deepest(name: str, mods: dict[str, Module]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(mod: Module, mods: dict[str, Module]) -> list[Import]:
    """Every datakit module ``mod`` imports: ``from pkg import submodule`` is an import of the
    submodule, ``from module import name`` one of the module."""
    guarded = _type_checking_nodes(mod.tree)
    found: list[Import] = []
    for node in ast.walk(mod.tree):
        tc = id(node) in guarded
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "datakit":
                    target = _deepest(alias.name, mods)
                    if target:
                        found.append(Import(mod.name, target, node.lineno, [], tc))
        elif isinstance(node, ast.ImportFrom):
            full = _from_module(mod, node)
            if full.split(".")[0] != "datakit":
                continue
            plain: list[str] = []
            for alias in node.names:
                sub = f"{full}.{alias.name}"
                if sub in mods:
                    found.append(Import(mod.name, sub, node.lineno, [], tc))
                else:
                    plain.append(alias.name)
            target = _deepest(full, mods)
            if plain and target:
                found.append(Import(mod.name, target, node.lineno, plain, tc))
    return found


def layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "facade"
    if parts[1] in TOP:
        return "top"
    if parts[1] in STAGES:
        return f"stage:{parts[1]}"
    return "core"


def layer_violations(imports: list[Import]) -> list[str]:
    bad = []
    for imp in imports:
        src, dst = layer(imp.source), layer(imp.target)
        if src in ("top", "facade") or src == dst or dst == "core" or dst == "facade":
            continue
        what = {"core": "core imports", "top": "top imports"}.get(src, "stage imports")
        if dst == "top":
            what += " the top layer"
        elif src.startswith("stage:"):
            what += " another stage"
        else:
            what += " a stage"
        bad.append(f"{imp.where()} {imp.source} -> {imp.target}: {what}")
    return bad


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_violations(mods: dict[str, Module], imports: list[Import]) -> list[str]:
    """``from m import _x``, ``m._x`` on an imported module, and a ``_module`` imported from
    outside its package."""
    bad = []
    for imp in imports:
        if imp.source == imp.target:
            continue
        for name in imp.names:
            if _private(name):
                bad.append(f"{imp.where()} {imp.source} imports {imp.target}.{name}")
        parts = imp.target.split(".")
        for i, part in enumerate(parts):
            owner = ".".join(parts[:i])
            if _private(part) and not (imp.source == owner or imp.source.startswith(owner + ".")):
                bad.append(f"{imp.where()} {imp.source} imports private module {imp.target}")
    for mod in mods.values():
        aliases: dict[str, str] = {}
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname and a.name in mods:
                        aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom):
                aliases.update(modules_bound(mod, node, mods))
        for node in ast.walk(mod.tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
                and aliases[node.value.id] != mod.name
            ):
                bad.append(
                    f"{mod.name}:{node.lineno} {mod.name} uses {aliases[node.value.id]}.{node.attr}"
                )
    return bad


def modules_bound(mod: Module, node: ast.ImportFrom, mods: dict[str, Module]) -> dict[str, str]:
    """Local names bound to datakit modules by one ``from … import …``."""
    full = _from_module(mod, node)
    return {
        a.asname or a.name: f"{full}.{a.name}" for a in node.names if f"{full}.{a.name}" in mods
    }


def _from_module(mod: Module, node: ast.ImportFrom) -> str:
    """The absolute module of ``from X import …`` (relative ones resolved)."""
    if not node.level:
        return node.module or ""
    package = mod.name if mod.is_package else mod.name.rpartition(".")[0]
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as one cycle
    through its members."""
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in imports:
        if imp.source != imp.target:
            graph[imp.source].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(_cycle_in(sorted(comp), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _cycle_in(comp: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    members = set(comp)
    start = comp[0]
    prev: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, v, start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp  # pragma: no cover - a component always has a cycle


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, Module], list[Import]]:
    mods = load_modules()
    imports = [imp for mod in mods.values() for imp in imports_of(mod, mods)]
    return mods, imports


def test_no_import_cycles(graph: tuple[dict[str, Module], list[Import]]) -> None:
    _, imports = graph
    found = cycles([i for i in imports if layer(i.source) != "facade"])
    edges = {(i.source, i.target): i.where() for i in imports}
    lines = [
        " -> ".join(c) + "\n      " + ", ".join(edges[a, b] for a, b in itertools.pairwise(c))
        for c in found
    ]
    assert not found, "import cycles:\n  " + "\n  ".join(lines)


def test_layers(graph: tuple[dict[str, Module], list[Import]]) -> None:
    _, imports = graph
    bad = layer_violations(imports)
    assert not bad, "imports across layers:\n  " + "\n  ".join(bad)


def test_the_package_root_imports_nothing_at_run_time(
    graph: tuple[dict[str, Module], list[Import]],
) -> None:
    _, imports = graph
    bad = [i.where() for i in imports if i.source == "datakit" and not i.type_checking]
    assert not bad, f"datakit/__init__.py re-exports lazily; runtime imports at {bad}"


def test_no_private_names_across_modules(graph: tuple[dict[str, Module], list[Import]]) -> None:
    mods, imports = graph
    bad = private_violations(mods, imports)
    assert not bad, "private names used outside their module:\n  " + "\n  ".join(bad)


# -- the checker itself, on a small tree written for it ------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    for rel, text in files.items():
        p = tmp_path / "datakit" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return load_modules(tmp_path / "datakit")


def test_the_checker_finds_cycles_cross_stage_imports_and_private_names(tmp_path: Path) -> None:
    mods = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "core.py": "def f():\n    from datakit.package import run\n",
            "check/__init__.py": "",
            "check/run.py": "from datakit.package.snapshot import write\n",
            "package/__init__.py": "",
            "package/run.py": "from . import inputs\n",
            "package/snapshot.py": "def write(): pass\n",
            "package/inputs.py": "def g():\n    from .snapshot import _read\n"
            "    from .run import x\n",
            "annotate/__init__.py": "",
            "annotate/a.py": "from datakit.annotate import b\nb._hidden()\n",
            "annotate/b.py": "",
            "cli/__init__.py": "from datakit.package import run\n",
            "cli/_common.py": "",
            "plan/__init__.py": "from datakit.cli import _common\n",
        },
    )
    imports = [imp for mod in mods.values() for imp in imports_of(mod, mods)]
    assert cycles(imports) == [
        ["datakit.package.inputs", "datakit.package.run", "datakit.package.inputs"]
    ]
    bad = layer_violations(imports)
    assert any("datakit.core -> datakit.package.run: core imports a stage" in b for b in bad)
    assert any(
        "datakit.check.run -> datakit.package.snapshot: stage imports another stage" in b
        for b in bad
    )
    assert any("datakit.plan -> datakit.cli._common" in b for b in bad)
    assert not any(b.split()[1] == "datakit.cli" for b in bad)  # the top may import anything
    private = private_violations(mods, imports)
    assert any(
        "datakit.package.inputs imports datakit.package.snapshot._read" in p for p in private
    )
    assert any("datakit.annotate.a uses datakit.annotate.b._hidden" in p for p in private)
    assert any("imports private module datakit.cli._common" in p for p in private)
