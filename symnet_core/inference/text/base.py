"""Shared parts of the class-name text embedders: the :class:`TextEmbedder` protocol, name
normalisation, the authors' word2vec row names (PASCAL / COCO) and their aliases.

APA (Sym-Net's visual-text alignment module) needs one text vector per class name: a float32
``[D]`` vector from a word2vec table, CLIP's text tower, or a hash of the name.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["COCO_CLASSES", "DEFAULT_PROMPT_TEMPLATE", "PASCAL_CLASSES", "TextEmbedder", "TextEncoderUnavailable",
           "alias_table", "compact_name", "normalize_class_name"]  # fmt: skip

#: Row names of the authors' ``word2vec_pascal.pkl`` (VOC order, row 0 = background).
PASCAL_CLASSES: tuple[str, ...] = (
    "background", "airplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "table", "dog", "horse", "motorbike", "person", "potted plant", "sheep", "sofa",
    "train", "tv",
)  # fmt: skip

#: Row names of the authors' ``word2vec_coco.pkl`` (contiguous COCO order, row 0 = background).
COCO_CLASSES: tuple[str, ...] = (
    "background", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# Alternative spellings -> the table's own name. Keys and values are compared after
# normalize_class_name() with all spaces removed, so "Potted-Plant" and "pottedplant" need no entry.
_PASCAL_ALIASES: dict[str, str] = {
    "aeroplane": "airplane", "plane": "airplane", "bike": "bicycle", "motorcycle": "motorbike",
    "dining table": "table", "diningtable": "table", "tv monitor": "tv", "tvmonitor": "tv",
    "television": "tv", "monitor": "tv", "couch": "sofa", "plant": "potted plant",
    "people": "person", "human": "person", "ship": "boat",
}  # fmt: skip
_COCO_ALIASES: dict[str, str] = {
    "aeroplane": "airplane", "plane": "airplane", "motorbike": "motorcycle", "bike": "bicycle",
    "sofa": "couch", "tv monitor": "tv", "tvmonitor": "tv", "television": "tv",
    "diningtable": "dining table", "table": "dining table", "pottedplant": "potted plant",
    "plant": "potted plant", "hair dryer": "hair drier", "doughnut": "donut",
    "fridge": "refrigerator", "mobile phone": "cell phone", "cellphone": "cell phone",
    "phone": "cell phone", "ski": "skis", "ball": "sports ball", "racket": "tennis racket",
    "hotdog": "hot dog", "people": "person", "human": "person",
}  # fmt: skip
_DATASETS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "pascal": (PASCAL_CLASSES, _PASCAL_ALIASES),
    "coco": (COCO_CLASSES, _COCO_ALIASES),
}

#: Prompt used by :class:`ClipTextEncoder`: CLIP was trained on captions, and this is the plain
#: prompt from the CLIP paper's zero-shot setup. ``{}`` is replaced by the normalised class name.
DEFAULT_PROMPT_TEMPLATE = "a photo of a {}."

_SEPARATORS = re.compile(r"[\s_\-]+")


def normalize_class_name(name: str) -> str:
    """Lower-case, trim, and turn runs of spaces/underscores/hyphens into one space.

    ``" Potted_Plant"`` -> ``"potted plant"``.
    """
    return _SEPARATORS.sub(" ", name.strip().lower()).strip()


def compact_name(name: str) -> str:
    return normalize_class_name(name).replace(" ", "")


@runtime_checkable
class TextEmbedder(Protocol):
    """Anything that turns a class name into an APA text vector."""

    @property
    def dim(self) -> int:
        """Width D of the vectors :meth:`embed` returns."""
        ...

    def embed(self, name: str) -> tuple[np.ndarray, str | None]:
        """Return (vector float32 [D], warning text for the user or None)."""
        ...



class TextEncoderUnavailable(RuntimeError):
    """CLIP weights cannot be had right now (not cached and no download allowed or possible)."""



def alias_table(dataset: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """(row names, alias -> row name) of the authors' word2vec table for ``"pascal"`` or ``"coco"``."""
    if dataset not in _DATASETS:
        raise ValueError(f"dataset must be one of {sorted(_DATASETS)}, got {dataset!r}")
    return _DATASETS[dataset]
