"""Base classes of the PASCAL-5i and COCO-20i folds, by name (torch-free).

The authors (github.com/Sunbaoquan/Sym-Net ``util/dataset.py``) hold out classes 5·f+1 … 5·f+5 of
PASCAL for fold f, and on COCO (``use_split_coco: True``, the FWB split) every fourth class starting
at f+1. The base learner of a fold-f checkpoint knows the other 15 / 60 classes: for those the
meta learner alone ("meta-only") is the fair comparison with the paper and usually what a user wants
to avoid the base learner suppressing them (its ensemble pushes base classes to background).
"""

from __future__ import annotations

from symnet_core.inference.text import COCO_CLASSES, PASCAL_CLASSES, normalize_class_name

__all__ = ["base_class_names", "is_base_class"]


def base_class_names(dataset: str, fold: int) -> tuple[str, ...]:
    """Names of the base classes of ``dataset`` (``"pascal"``/``"coco"``) fold ``fold`` (0–3), in id order."""
    if fold not in range(4):
        raise ValueError(f"fold must be 0..3, got {fold}")
    if dataset == "pascal":
        novel = set(range(5 * fold + 1, 5 * fold + 6))
        return tuple(PASCAL_CLASSES[c] for c in range(1, 21) if c not in novel)
    if dataset == "coco":
        novel = set(range(fold + 1, 81, 4))
        return tuple(COCO_CLASSES[c] for c in range(1, 81) if c not in novel)
    raise ValueError(f"dataset must be 'pascal' or 'coco', got {dataset!r}")


def is_base_class(name: str, base_classes: tuple[str, ...] | list[str]) -> bool:
    """Whether ``name`` (any spelling: case, ``_``/``-``/spaces) is one of ``base_classes``."""
    key = normalize_class_name(name).replace(" ", "")
    return any(normalize_class_name(b).replace(" ", "") == key for b in base_classes)
