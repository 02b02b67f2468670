"""Where few-shot training data comes from: label/image readers and *sources*, numbered items
that each give (RGB ``uint8`` HxWx3, class-index label HxW ``uint8``/``uint16``).

:class:`FileSource` reads image/PNG pairs, :class:`CocoJsonSource` rasterises COCO instance
files, :class:`SyntheticSource` draws scenes of the synthetic generator. Label value 255 means
"ignore" (:data:`~symnet_core.inference.transforms.IGNORE_LABEL`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image

from symnet_core.inference.transforms import IGNORE_LABEL
from symnet_core.training.synthetic.generator import SyntheticFewShot

__all__ = ["CocoJsonSource", "FileSource", "SegmentationSource", "SyntheticSource", "base_lut", "binarise",
           "read_label", "read_rgb", "resize_nearest"]  # fmt: skip


def read_label(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a class-index PNG (mode L, P or 16-bit) as HxW uint8 (uint16 when ids exceed 255).

    Palette PNGs (VOC ``SegmentationClass``) give their indices, not colours.
    """
    with Image.open(path) as im:
        im.load()
        if im.mode in ("L", "P"):
            return np.array(im, dtype=np.uint8)
        if im.mode.startswith("I"):
            a = np.asarray(im)
            return a.astype(np.uint8) if int(a.max(initial=0)) <= 255 else a.astype(np.uint16)
        raise ValueError(f"{path}: a label PNG must be single-channel (L, P or 16-bit), found mode {im.mode}")


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB (no EXIF rotation, as the dataset labels assume)."""
    with Image.open(path) as im:
        return np.array(im.convert("RGB"), dtype=np.uint8)


def binarise(label: np.ndarray, class_id: int) -> np.ndarray:
    """Episode label: ``class_id`` → 1, 255 → 255, everything else → 0 (uint8)."""
    out = (label == class_id).astype(np.uint8)
    out[label == IGNORE_LABEL] = IGNORE_LABEL
    return out


def base_lut(base_classes: Sequence[int], size: int = 65536) -> np.ndarray:
    """Lookup table dataset id → base-learner index (base class i → i+1, others → 0, 255 → 255)."""
    lut = np.zeros(size, np.uint8)
    for i, c in enumerate(base_classes):
        lut[c] = i + 1
    lut[IGNORE_LABEL] = IGNORE_LABEL
    return lut


class SegmentationSource(Protocol):
    """Images and class-index labels by item number."""

    def __len__(self) -> int: ...

    def item_name(self, index: int) -> str: ...

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(HxWx3 uint8 RGB, HxW class-index label; 0 background, 255 ignore)."""
        ...


@dataclass
class FileSource:
    """Image files and label PNGs listed in pairs (PASCAL, COCO PNG layout, user folders)."""

    pairs: list[tuple[Path, Path]]
    name: str = "files"

    def __len__(self) -> int:
        return len(self.pairs)

    def item_name(self, index: int) -> str:
        return self.pairs[index][0].name

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        img_path, lab_path = self.pairs[index]
        rgb, label = read_rgb(img_path), read_label(lab_path)
        if rgb.shape[:2] != label.shape:
            raise ValueError(f"{img_path} is {rgb.shape[1]}x{rgb.shape[0]} but {lab_path} is "
                             f"{label.shape[1]}x{label.shape[0]}")  # fmt: skip
        return rgb, label

    def signature(self) -> str:
        h = hashlib.sha256()
        for a, b in self.pairs:
            h.update(f"{a}|{b}\n".encode())
        return h.hexdigest()[:16]


class CocoJsonSource:
    """COCO images with labels rasterised from an instances JSON (pycocotools).

    Category ids are mapped to contiguous ids 1..N in sorted order. Instances are painted largest
    first so that small objects stay visible; crowd regions become 255 (ignore).
    """

    def __init__(self, image_dir: Path, annotation_file: Path) -> None:
        from pycocotools.coco import COCO

        self.image_dir = Path(image_dir)
        self.coco = COCO(str(annotation_file))
        cats = sorted(self.coco.getCatIds())
        self.contiguous = {c: i + 1 for i, c in enumerate(cats)}
        self.class_names = {i + 1: self.coco.loadCats([c])[0]["name"] for i, c in enumerate(cats)}
        self.ids = sorted(self.coco.getImgIds())
        self.name = f"coco-json:{Path(annotation_file).name}"

    def __len__(self) -> int:
        return len(self.ids)

    def item_name(self, index: int) -> str:
        return str(self.coco.loadImgs([self.ids[index]])[0]["file_name"])

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        info = self.coco.loadImgs([self.ids[index]])[0]
        rgb = read_rgb(self.image_dir / info["file_name"])
        label = np.zeros((int(info["height"]), int(info["width"])), np.uint8)
        anns = self.coco.loadAnns(self.coco.getAnnIds(imgIds=[info["id"]], iscrowd=None))
        for ann in sorted(anns, key=lambda a: -float(a.get("area", 0.0))):
            m = self.coco.annToMask(ann).astype(bool)
            label[m] = IGNORE_LABEL if ann.get("iscrowd", 0) else self.contiguous[ann["category_id"]]
        if rgb.shape[:2] != label.shape:
            raise ValueError(f"{info['file_name']}: image size differs from the annotation's")
        return rgb, label

    def signature(self) -> str:
        return hashlib.sha256(",".join(map(str, self.ids)).encode()).hexdigest()[:16]


class SyntheticSource:
    """Scenes of a :class:`~symnet_core.training.synthetic.generator.SyntheticFewShot` split as numbered items.

    Item i's main class is ``main_classes[i % len(main_classes)]`` (balanced); its other objects
    come from ``pool``. Scenes are generated on demand, so ``n_items`` can be large.
    """

    def __init__(
        self, gen: SyntheticFewShot, split: str, n_items: int, main_classes: Sequence[int], pool: Sequence[int]
    ) -> None:
        if n_items < 1 or not main_classes:
            raise ValueError("a synthetic split needs items and main classes")
        self.gen = gen
        self.split = split
        self.n_items = int(n_items)
        self.main_classes = tuple(int(c) for c in main_classes)
        self.pool = tuple(sorted({*map(int, pool), *self.main_classes}))
        self.name = f"synthetic-{split}"

    def __len__(self) -> int:
        return self.n_items

    def main_class(self, index: int) -> int:
        return self.main_classes[index % len(self.main_classes)]

    def item_name(self, index: int) -> str:
        return f"{self.split}_{index:06d}"

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < self.n_items:
            raise IndexError(index)
        return self.gen.scene(index, self.pool, main=self.main_class(index), stream=self.split)



def resize_nearest(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map to (h, w)."""
    return cv2.resize(label, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
