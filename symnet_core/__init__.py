"""symnet_core: the Qt-free Sym-Net engine of symnet-annotate. The public API in a few lines::

    model = load_checkpoint("model.pth")                # a SymNet (architecture read from the file)
    predictor = Predictor(model, device="auto")         # or load_predictor(path).predictor (+ text embedder)
    predictor.set_supports(images, masks, "cell")       # HxWx3 uint8 RGB images, HxW bool masks
    prediction = predictor.predict(image)               # Prediction: probability, mask, score
    adapt_predictor(predictor)                          # optional: tune the head on the supports
    with Project.open_or_create("/data/cells", classes=["cell"]) as project:
        propagate_project(project, predictor)           # masks for the unlabelled images
        images, classes = iter_project_images(project), project_categories(project)
        write_coco("out.json", images, classes)         # or write_png_masks("masks/", images, classes)
    categories, masks = import_coco("in.json")          # import_png_masks(mask_dir, files) for PNGs

Every name is imported lazily on first use (so ``import symnet_core`` loads neither torch nor
numpy-heavy modules); where each lives: ``_LAZY`` below and ``docs/adr/0007-layout.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    # model
    "SymNet": "symnet_core.model.symnet",
    "SymNetOutput": "symnet_core.model.symnet",
    "SymNetConfig": "symnet_core.model.config",
    "load_checkpoint": "symnet_core.model.checkpoints",
    "save_checkpoint": "symnet_core.model.checkpoints",
    "CheckpointError": "symnet_core.model.checkpoints",
    # inference
    "Predictor": "symnet_core.inference.predictor",
    "Prediction": "symnet_core.inference.types",
    "load_predictor": "symnet_core.inference.loading",
    "resolve_device": "symnet_core.device",
    # adaptation
    "adapt_predictor": "symnet_core.adaptation.head_tuning",
    # projects and workflows
    "Project": "symnet_core.project",
    "ImageStatus": "symnet_core.project",
    "propagate_project": "symnet_core.workflows.propagation",
    # formats
    "export_coco": "symnet_core.io.coco.export",
    "write_coco": "symnet_core.io.coco.export",
    "iter_project_images": "symnet_core.io.project_masks",
    "project_categories": "symnet_core.io.project_masks",
    "validate_coco": "symnet_core.io.coco.validate",
    "write_png_masks": "symnet_core.io.png.export",
    "import_coco": "symnet_core.io.importers",
    "import_png_masks": "symnet_core.io.importers",
}

if TYPE_CHECKING:  # pragma: no cover
    from symnet_core.adaptation.head_tuning import adapt_predictor
    from symnet_core.device import resolve_device
    from symnet_core.inference.loading import load_predictor
    from symnet_core.inference.predictor import Predictor
    from symnet_core.inference.types import Prediction
    from symnet_core.io.coco.export import export_coco, write_coco
    from symnet_core.io.coco.validate import validate_coco
    from symnet_core.io.importers import import_coco, import_png_masks
    from symnet_core.io.png.export import write_png_masks
    from symnet_core.io.project_masks import iter_project_images, project_categories
    from symnet_core.model.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
    from symnet_core.model.config import SymNetConfig
    from symnet_core.model.symnet import SymNet, SymNetOutput
    from symnet_core.project import ImageStatus, Project
    from symnet_core.workflows.propagation import propagate_project


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'symnet_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "CheckpointError",
    "ImageStatus",
    "Prediction",
    "Predictor",
    "Project",
    "SymNet",
    "SymNetConfig",
    "SymNetOutput",
    "adapt_predictor",
    "export_coco",
    "import_coco",
    "import_png_masks",
    "iter_project_images",
    "load_checkpoint",
    "load_predictor",
    "project_categories",
    "propagate_project",
    "resolve_device",
    "save_checkpoint",
    "validate_coco",
    "write_coco",
    "write_png_masks",
]
