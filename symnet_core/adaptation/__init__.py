"""Test-time adaptation: fine-tuning a copy of the head on a class's supports (:mod:`.head_tuning`,
:func:`adapt_predictor`), per-class heads stored in a project (:mod:`.class_heads`).

Adaptation reuses the training augmentation and loss (``symnet_core.training.augment`` /
``.losses``); the inference package never imports this package (see ``docs/adr/0007-layout.md``).
Names are imported lazily: ``class_heads`` must stay importable without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["AdaptConfig", "AdaptReport", "adapt_head", "adapt_predictor"]

if TYPE_CHECKING:  # pragma: no cover
    from symnet_core.adaptation.head_tuning import AdaptConfig, AdaptReport, adapt_head, adapt_predictor


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'symnet_core.adaptation' has no attribute {name!r}")
    value = getattr(importlib.import_module("symnet_core.adaptation.head_tuning"), name)
    globals()[name] = value
    return value
