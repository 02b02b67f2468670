"""Make ``import torchvision`` (and so ``import open_clip``) work when torchvision's C++ ops cannot load.

Why this exists
---------------
On CPU-only machines with ``torch==2.13.0+cpu`` the only matching torchvision is PyPI's
``0.28.0`` wheel, which is a CUDA build: its compiled extension ``torchvision/_C.so`` needs
``libtorch_cuda.so`` and fails to load. torchvision tolerates that in ``torchvision.extension``
(its ``_has_ops()`` then returns False), but its ``__init__`` goes on to import
``torchvision._meta_registrations``, which registers fake kernels for ``torchvision::nms`` and
friends with ``torch.library.register_fake`` and raises
``RuntimeError: operator torchvision::nms does not exist``. ``open_clip`` imports torchvision at
import time, so on such a machine ``import open_clip`` fails too.

The workaround: before torchvision is first imported, and only if its compiled ops really cannot
load, put empty placeholder modules under the names ``torchvision._meta_registrations`` and
``torchvision._autograd_registrations`` into :data:`sys.modules`. torchvision's ``__init__`` then
finds them already "imported" and skips the registrations that would fail. Everything pure-Python
(transforms, models, open_clip, timm) works; only the compiled ops (``torchvision.ops.nms``,
``roi_align``...) stay unavailable and raise torchvision's own clear "Couldn't load custom C++ ops"
error if called. Nothing in symnet needs them.

Where torchvision loads normally (any machine with a matching CUDA torch, or a CPU torchvision),
:func:`ensure_torchvision_importable` changes nothing.

Caveat: this depends on torchvision internals (the two module names above and the order of
imports in ``torchvision/__init__.py``). Keep torchvision pinned (``constraints.txt``) and re-check
this module (``tests/unit/test_torchvision_compat.py`` covers both branches) when the pin moves.
See ``docs/adr/0001-torchvision-compat-shim.md``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import sys
import threading
import types

__all__ = ["ensure_torchvision_importable"]

_log = logging.getLogger(__name__)

_PLACEHOLDER_NAMES = ("torchvision._meta_registrations", "torchvision._autograd_registrations")
_PLACEHOLDER_MARKER = "__symnet_placeholder__"
_lock = threading.Lock()


def ensure_torchvision_importable() -> bool:
    """Apply the placeholder workaround if, and only if, torchvision's compiled ops cannot load.

    Call this before anything imports torchvision (directly or through open_clip/timm). It is
    idempotent and thread-safe; calling it again, or after torchvision was imported, is harmless.

    Returns:
        True if the placeholder modules are in effect (inserted by this call or an earlier one),
        False if nothing was needed or nothing could be done (torchvision loads normally, is not
        installed, or was already imported before the first call).
    """
    with _lock:
        if _placeholders_installed():
            _log.debug("torchvision placeholders already installed; nothing to do")
            return True
        if "torchvision" in sys.modules:
            _log.debug("torchvision already imported; leaving it alone")
            return False
        ops_ok, detail = _probe_torchvision_ops()
        if ops_ok:
            _log.debug("torchvision compiled ops load (%s); no workaround needed", detail)
            return False
        for name in _PLACEHOLDER_NAMES:
            module = types.ModuleType(name, "symnet placeholder: torchvision op registrations skipped")
            setattr(module, _PLACEHOLDER_MARKER, True)
            sys.modules[name] = module
        _log.debug(
            "torchvision compiled ops unavailable (%s); installed placeholders for %s",
            detail,
            ", ".join(_PLACEHOLDER_NAMES),
        )
        return True


def _placeholders_installed() -> bool:
    return any(getattr(sys.modules.get(name), _PLACEHOLDER_MARKER, False) for name in _PLACEHOLDER_NAMES)


def _probe_torchvision_ops() -> tuple[bool, str]:
    """Check whether torchvision's ``_C`` extension loads, without importing torchvision.

    ``importlib.util.find_spec("torchvision")`` locates the package without executing it; the
    extension file is then found next to it and loaded with ``torch.ops.load_library`` (what
    torchvision itself does). A failed load leaves no trace in :data:`sys.modules`; a successful
    one is exactly the load torchvision would do anyway.

    Returns:
        (True, detail) when the ops load, or when torchvision is not installed (nothing to fix);
        (False, detail) when the workaround is needed. ``detail`` is a short text for the log.
    """
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True, "torchvision not installed"
    package_dir = next(iter(spec.submodule_search_locations))
    finder = importlib.machinery.FileFinder(
        package_dir, (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES)
    )
    ext_spec = finder.find_spec("_C")
    if ext_spec is None or not ext_spec.origin:
        return False, f"no _C extension in {package_dir}"

    import torch

    try:
        torch.ops.load_library(ext_spec.origin)
    except OSError as exc:
        cause = exc.__cause__ or exc
        return False, f"loading {ext_spec.origin} failed: {cause}"
    try:
        torch.ops.torchvision.nms  # noqa: B018 - attribute lookup is the check
    except (AttributeError, RuntimeError) as exc:
        return False, f"{ext_spec.origin} loaded but torchvision::nms is missing: {exc}"
    return True, f"loaded {ext_spec.origin}"
