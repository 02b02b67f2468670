"""``symnet_core``'s public API: every documented name resolves lazily to the object of its home
module, the names that existed before the regroup keep working, and ``import symnet_core`` alone
stays cheap (no torch, no Qt)."""

from __future__ import annotations

import importlib
import json

import pytest

import symnet_core

# Names public before the layout change (issue #13): they must keep working.
EARLIER_NAMES = ("CheckpointError", "Prediction", "Predictor", "SymNet", "SymNetConfig", "SymNetOutput",
                 "load_checkpoint", "resolve_device", "save_checkpoint")  # fmt: skip
# The API the package docstring promises.
PROMISED = ("Predictor", "Project", "adapt_predictor", "import_coco", "import_png_masks", "iter_project_images",
            "load_checkpoint", "load_predictor", "project_categories", "propagate_project", "write_coco",
            "write_png_masks")  # fmt: skip


def test_all_lists_exactly_the_lazy_names():
    assert sorted(symnet_core.__all__) == sorted(symnet_core._LAZY)
    assert set(EARLIER_NAMES) <= set(symnet_core.__all__)
    assert set(PROMISED) <= set(symnet_core.__all__)
    for name in PROMISED:
        assert name in symnet_core.__doc__, f"{name} is public but the package docstring does not show it"


@pytest.mark.parametrize("name", sorted(symnet_core._LAZY))
def test_public_name_is_its_home_modules_object(name):
    home = importlib.import_module(symnet_core._LAZY[name])
    value = getattr(symnet_core, name)
    assert value is getattr(home, name)
    namespace: dict[str, object] = {}
    exec(f"from symnet_core import {name}", namespace)  # the form users write
    assert namespace[name] is value
    assert name in dir(symnet_core)


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'propagate'"):
        symnet_core.propagate  # noqa: B018


def test_plain_import_loads_neither_torch_nor_the_subpackages(python_subprocess):
    proc = python_subprocess(
        "import json, sys, symnet_core; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6') "
        "or m.startswith('symnet_core.'))))"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
