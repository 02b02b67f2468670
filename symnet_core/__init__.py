"""symnet_core: the Qt-free Sym-Net engine of symnet-annotate.

Public names: :class:`SymNet` (architecture), :class:`SymNetConfig`, :func:`load_checkpoint`,
:class:`Predictor` and :class:`Prediction` (usage). Heavy submodules are imported lazily so that
``import symnet_core`` stays cheap for the GUI process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "SymNet": "symnet_core.modeling.symnet",
    "SymNetOutput": "symnet_core.modeling.symnet",
    "SymNetConfig": "symnet_core.config",
    "load_checkpoint": "symnet_core.checkpoints",
    "save_checkpoint": "symnet_core.checkpoints",
    "CheckpointError": "symnet_core.checkpoints",
    "Predictor": "symnet_core.predictor",
    "Prediction": "symnet_core.types",
    "resolve_device": "symnet_core.device",
}

if TYPE_CHECKING:  # pragma: no cover
    from symnet_core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
    from symnet_core.config import SymNetConfig
    from symnet_core.device import resolve_device
    from symnet_core.modeling.symnet import SymNet, SymNetOutput
    from symnet_core.predictor import Predictor
    from symnet_core.types import Prediction


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
