"""symnet_core: the Qt-free Sym-Net engine of symnet-annotate.

Public names: :class:`SymNet` (architecture), :class:`SymNetConfig`, :func:`load_checkpoint`,
:class:`Predictor` and :class:`Prediction` (usage). Heavy submodules are imported lazily so that
``import symnet_core`` stays cheap for the GUI process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "SymNet": "symnet_core.model.symnet",
    "SymNetOutput": "symnet_core.model.symnet",
    "SymNetConfig": "symnet_core.model.config",
    "load_checkpoint": "symnet_core.model.checkpoints",
    "save_checkpoint": "symnet_core.model.checkpoints",
    "CheckpointError": "symnet_core.model.checkpoints",
    "Predictor": "symnet_core.inference.predictor",
    "Prediction": "symnet_core.inference.types",
    "resolve_device": "symnet_core.device",
}

if TYPE_CHECKING:  # pragma: no cover
    from symnet_core.device import resolve_device
    from symnet_core.inference.predictor import Predictor
    from symnet_core.inference.types import Prediction
    from symnet_core.model.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
    from symnet_core.model.config import SymNetConfig
    from symnet_core.model.symnet import SymNet, SymNetOutput


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'symnet_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CheckpointError",
    "Prediction",
    "Predictor",
    "SymNet",
    "SymNetConfig",
    "SymNetOutput",
    "load_checkpoint",
    "resolve_device",
    "save_checkpoint",
]
