"""Layer boundaries (docs/adr/0002-layering-and-threading.md), checked on the source with ``ast``.

* ``symnet_core`` never imports Qt (PySide6, shiboken6, or another binding) or ``symnet_gui``.
* ``symnet_gui`` outside ``symnet_gui/services/`` never imports torch, torchvision or open_clip.
* The GUI's pure-array modules (mask rasterisation, hole filling) never import Qt, so they can be
  tested and reused without a display.

Every import counts: module level, inside functions, under ``if TYPE_CHECKING``, relative imports,
and ``importlib.import_module("x")`` / ``__import__("x")`` with a literal name.
"""

from __future__ import annotations

import ast
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CORE_FORBIDDEN = frozenset({"PySide6", "shiboken6", "PyQt5", "PyQt6", "PySide2", "qtpy", "symnet_gui"})
GUI_FORBIDDEN = frozenset({"torch", "torchvision", "open_clip"})


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str | None, level: int, current: str, is_package: bool) -> str:
    if level == 0:
        return module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def imported_modules(source: str, current: str = "pkg.mod", is_package: bool = False) -> list[tuple[int, str]]:
    """All (line, absolute module name) imported anywhere in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(node.module, node.level, current, is_package)
            found.append((node.lineno, base))
            # "from pkg import sub" may import the submodule pkg.sub
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def find_violations(
    source: str, forbidden: frozenset[str], file: str = "<string>", current: str = "pkg.mod", is_package: bool = False
) -> list[Violation]:
    """Imports in ``source`` whose top-level package is in ``forbidden``."""
    return [
        Violation(file, line, module)
        for line, module in imported_modules(source, current, is_package)
        if module.split(".")[0] in forbidden
    ]


def _python_files(package: str) -> list[Path]:
    return sorted(p for p in (REPO_ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _scan(files: list[Path], forbidden: frozenset[str]) -> list[Violation]:
    violations: list[Violation] = []
    for path in files:
        violations += find_violations(
            path.read_text(encoding="utf-8"),
            forbidden,
            file=str(path.relative_to(REPO_ROOT)),
            current=_module_name(path),
            is_package=path.name == "__init__.py",
        )
    return violations


def test_core_never_imports_qt_or_gui():
    files = _python_files("symnet_core")
    assert len(files) > 0, "no files found under symnet_core: the scan would pass vacuously"
    violations = _scan(files, CORE_FORBIDDEN)
    assert not violations, "symnet_core must stay Qt-free:\n" + "\n".join(map(str, violations))


def test_gui_outside_services_never_imports_torch():
    gui_root = REPO_ROOT / "symnet_gui"
    files = [p for p in _python_files("symnet_gui") if p.relative_to(gui_root).parts[0] != "services"]
    assert len(files) > 0, "no files found under symnet_gui: the scan would pass vacuously"
    violations = _scan(files, GUI_FORBIDDEN)
    assert not violations, "only symnet_gui/services/ may import torch/torchvision/open_clip:\n" + "\n".join(
        map(str, violations)
    )


GUI_QT_FREE_MODULES = ("symnet_gui/canvas/raster.py", "symnet_gui/document/mask_ops.py",
                       "symnet_gui/imaging/__init__.py", "symnet_gui/imaging/overlays.py")
GUI_ARRAY_HELPERS = {"symnet_gui.document.mask_ops": ("changed_bbox", "fill_holes"),
                     "symnet_gui.imaging.overlays": ("compose_thumbnail", "uncertainty_rgba"),
                     "symnet_gui.canvas.raster": ("fill_polygon", "stamp_segment")}


@pytest.mark.parametrize("rel", GUI_QT_FREE_MODULES)
def test_gui_array_helpers_are_qt_free(rel):
    violations = _scan([REPO_ROOT / rel], (CORE_FORBIDDEN - {"symnet_gui"}) | GUI_FORBIDDEN)
    assert not violations, "\n".join(map(str, violations))


def test_importing_the_gui_array_helpers_loads_no_qt_or_torch(python_subprocess):
    """Their packages' ``__init__`` and everything they import count too, not only the files."""
    imports = "; ".join(f"from {m} import {', '.join(names)}" for m, names in GUI_ARRAY_HELPERS.items())
    proc = python_subprocess(
        f"import json, sys; {imports}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'torch', 'torchvision', 'open_clip'))))"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(
    "source",
    [
        "import torch",
        "import torch.nn as nn",
        "from torch import nn",
        "from torchvision.transforms import functional",
        "def later():\n    import open_clip\n",
        "class A:\n    def m(self):\n        from torch.nn import functional as F\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
        "import importlib\nimportlib.import_module('torch')",
        "__import__('open_clip')",
        "try:\n    import numpy, torch\nexcept ImportError:\n    pass\n",
    ],
)
def test_scanner_detects_synthetic_violations(source):
    assert find_violations(source, GUI_FORBIDDEN)


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np",
        "import torchmetrics_like_name_is_not_torch",
        "from symnet_core.inference.types import Prediction",
        "x = 'import torch'",  # a string, not an import
        "# import torch",
    ],
)
def test_scanner_allows_clean_sources(source):
    assert not find_violations(source, GUI_FORBIDDEN)


def test_scanner_resolves_relative_imports():
    source = "from .. import symnet_gui_thing\nfrom ...symnet_gui import widgets\n"
    # From symnet_core.a.b (a module), "..": symnet_core; "...": the top level.
    found = [m for _, m in imported_modules(source, current="symnet_core.a.b")]
    assert "symnet_core.symnet_gui_thing" in found
    assert "symnet_gui.widgets" in found
    assert find_violations(source, CORE_FORBIDDEN, current="symnet_core.a.b")


def test_importing_every_core_module_loads_no_qt(python_subprocess):
    code = textwrap.dedent(
        """
        import importlib, json, pkgutil, sys
        import symnet_core
        skipped = {}
        for info in pkgutil.walk_packages(symnet_core.__path__, "symnet_core."):
            try:
                importlib.import_module(info.name)
            except ModuleNotFoundError as exc:
                if (exc.name or "").startswith("symnet"):
                    raise
                skipped[info.name] = exc.name  # an optional third-party dependency
        qt = sorted(m for m in sys.modules if m.split(".")[0] in {"PySide6", "shiboken6", "PyQt5", "PyQt6"})
        print(json.dumps({"qt": qt, "skipped": skipped}))
        """
    )
    proc = python_subprocess(code)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["qt"] == [], f"Qt modules loaded by symnet_core: {result['qt']}"


def test_plain_import_of_core_loads_no_qt(python_subprocess):
    proc = python_subprocess(
        "import json, sys, symnet_core; "
        "print(json.dumps([m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')]))"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
