"""The layout of docs/adr/0007-layout.md, checked on the source with ``ast``.

The module import graph of ``symnet_core`` and ``symnet_gui`` has an edge A -> B when module A
imports module B anywhere: at module level, inside functions or methods, or through
``importlib.import_module("literal")`` (imports under ``if TYPE_CHECKING:`` are excluded: they
never run). ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg``; a module importing one of its own parent packages is not an edge (Python has already
started that package when the module runs). On that graph:

* no import cycle (strongly connected component of more than one module);
* ``symnet_core.inference`` reaches nothing in ``symnet_core.training`` or
  ``symnet_core.adaptation``, transitively (parent packages of every reached module included,
  because Python runs their ``__init__``); ``symnet_core.training`` never reaches
  ``symnet_core.adaptation`` (dependency runs one way: model -> inference -> training -> adaptation);

and on the files: no ``*Mixin`` class, at most 3 loose top-level modules in ``symnet_core``
(besides ``__init__`` and ``_private`` ones), no source file over 500 lines.

Imports inside ``if TYPE_CHECKING:`` are not edges (the issue's rule); the repository's layout
check counts them too, and the code base has none that close a cycle either.
"""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("symnet_core", "symnet_gui")
MAX_LINES = 500
MAX_LOOSE = 3


# ----------------------------------------------------------------------------------------------
# The graph
# ----------------------------------------------------------------------------------------------


def module_files(root: Path = REPO_ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """``{dotted module name: file}`` of every ``.py`` file of the packages (``__init__`` = the package)."""
    mods: dict[str, Path] = {}
    for pkg in packages:
        for f in sorted((root / pkg).rglob("*.py")):
            if "__pycache__" in f.parts:
                continue
            parts = list(f.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = f
    return mods


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node except those only reached through the body of an ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)  # the else branch runs
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(source: str, current: str, is_package: bool) -> set[str]:
    """Absolute dotted names ``source`` imports at run time (``from a import b`` gives ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = current.split(".")
                if not is_package:
                    base_parts = base_parts[:-1]
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def build_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Edges between the modules of ``mods`` (see the module docstring)."""
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for name in imported_names(f.read_text(encoding="utf-8"), m, f.name == "__init__.py"):
            target = name
            while target and target not in mods:
                target = target.rpartition(".")[0]
            if target and target != m and not m.startswith(target + "."):
                graph[m].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def reachable(graph: dict[str, set[str]], starts: Iterable[str]) -> set[str]:
    """Modules whose code runs when ``starts`` are imported and their functions called: the
    transitive closure over the edges, with every parent package of a reached module."""
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(graph.get(m, ()))
        parent = m.rpartition(".")[0]
        while parent:
            if parent in graph:
                todo.append(parent)
            parent = parent.rpartition(".")[0]
    return seen


def _in(module: str, area: str) -> bool:
    return module == area or module.startswith(area + ".")


@pytest.fixture(scope="module")
def mods() -> dict[str, Path]:
    found = module_files()
    assert len(found) > 50, "too few modules found: the checks would pass vacuously"
    return found


@pytest.fixture(scope="module")
def graph(mods) -> dict[str, set[str]]:
    return build_graph(mods)


# ----------------------------------------------------------------------------------------------
# The scanner itself (synthetic packages on disk)
# ----------------------------------------------------------------------------------------------


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_scanner_finds_function_level_and_relative_cycles(tmp_path):
    _write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def f():\n    from . import c\n",
        "pkg/c.py": "import importlib\nimportlib.import_module('pkg.a')\n",
        "pkg/d.py": "from pkg.a import something\n",
    })  # fmt: skip
    g = build_graph(module_files(tmp_path, ["pkg"]))
    assert g["pkg.b"] == {"pkg.c"} and g["pkg.d"] == {"pkg.a"}
    assert cycles(g) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_scanner_ignores_type_checking_and_parent_packages(tmp_path):
    _write_tree(tmp_path, {
        "pkg/__init__.py": "from pkg.sub import x\n",
        "pkg/sub/__init__.py": "x = 1\n",
        "pkg/sub/m.py": """\
            import typing
            from typing import TYPE_CHECKING
            import pkg
            if TYPE_CHECKING:
                from pkg import other
            if typing.TYPE_CHECKING:
                import pkg.other
            else:
                import pkg.third
            """,
        "pkg/other.py": "import pkg.sub.m\n",
        "pkg/third.py": "",
    })  # fmt: skip
    g = build_graph(module_files(tmp_path, ["pkg"]))
    assert g["pkg.sub.m"] == {"pkg.third"}
    assert cycles(g) == []
    # the closure runs parent packages: importing pkg.other runs pkg/__init__ and so pkg.sub
    assert reachable(g, ["pkg.other"]) == {"pkg", "pkg.sub", "pkg.sub.m", "pkg.other", "pkg.third"}


# ----------------------------------------------------------------------------------------------
# The code base
# ----------------------------------------------------------------------------------------------


def test_no_import_cycles(graph):
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("start", "forbidden"),
    [
        ("symnet_core.inference", "symnet_core.training"),
        ("symnet_core.inference", "symnet_core.adaptation"),
        ("symnet_core.model", "symnet_core.inference"),
        ("symnet_core.training", "symnet_core.adaptation"),
    ],
)
def test_dependency_runs_one_way(graph, start, forbidden):
    starts = [m for m in graph if _in(m, start)]
    assert starts, f"no module under {start}"
    reached = reachable(graph, starts)
    bad = sorted(m for m in reached if _in(m, forbidden))
    assert not bad, f"{start} reaches {forbidden}: {bad}"


def _mixins(mods: dict[str, Path], area: str | None = None) -> list[str]:
    out = []
    for m, f in mods.items():
        if area is not None and not _in(m, area):
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"))
        out += [f"{m}.{n.name}" for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name.endswith("Mixin")]
    return out


def test_no_mixin_classes(mods):
    found = _mixins(mods)
    assert not found, f"classes split over files by mixins: {found}"


def test_gui_document_package_has_no_mixin_classes(mods):
    assert not _mixins(mods, "symnet_gui.document")


def test_symnet_core_has_at_most_three_loose_modules():
    top = (REPO_ROOT / "symnet_core").glob("*.py")
    loose = sorted(p.name for p in top if p.name != "__init__.py" and not p.name.startswith("_"))
    assert len(loose) <= MAX_LOOSE, f"loose top-level modules in symnet_core: {loose}"


def _line_counts(mods: dict[str, Path]) -> dict[str, int]:
    return {f.relative_to(REPO_ROOT).as_posix(): len(f.read_text(encoding="utf-8").splitlines()) for f in mods.values()}


def test_no_source_file_over_500_lines(mods):
    long = {p: n for p, n in _line_counts(mods).items() if n > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_importing_the_inference_package_loads_no_training_code(python_subprocess):
    """The run-time counterpart of the static check: import every inference module, predict
    with the bundled demo model, and look at ``sys.modules``."""
    code = textwrap.dedent(
        """
        import importlib, json, pkgutil, sys
        import symnet_core.inference as inf
        for info in pkgutil.walk_packages(inf.__path__, "symnet_core.inference."):
            importlib.import_module(info.name)
        from symnet_core.inference.loading import load_predictor
        from symnet_core.assets import demo_model_path
        import numpy as np
        predictor = load_predictor(demo_model_path(), device="cpu").predictor
        image = np.full((64, 64, 3), 90, np.uint8)
        mask = np.zeros((64, 64), bool)
        mask[16:48, 16:48] = True
        image[mask] = 200
        predictor.set_supports([image], [mask], "square")
        predictor.predict(image)
        bad = sorted(m for m in sys.modules if m.startswith(("symnet_core.training", "symnet_core.adaptation")))
        print(json.dumps(bad))
        """
    )
    proc = python_subprocess(code)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_project_package_has_no_mixin_classes(mods):
    assert not _mixins(mods, "symnet_core.project")
