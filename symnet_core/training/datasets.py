"""Few-shot episodes from PASCAL-5i, COCO-20i, a user folder or the synthetic dataset (spec §2.1).

Pieces:

* a **source** gives images and class-index labels by item number (:class:`FileSource` for
  image/PNG pairs, :class:`CocoJsonSource` for COCO instance files, :class:`SyntheticSource`);
* a **class index** (:func:`scan_class_pixels`) counts the pixels of every class in every label,
  cached as JSON for the real datasets;
* an :class:`EpisodeSplit` is what the authors' lists hold: the query list ``data_list`` (item,
  valid classes) and, per class, the items that may serve as supports (``by_class``);
* :func:`sample_episode` draws one episode: class among the query item's valid classes, K distinct
  supports of that class other than the query, labels binarised (class → 1, 255 kept, rest → 0),
  and the base-class label of the query (base classes → 1..N, everything else → 0, 255 kept).

Split rules (as the BAM/PFENet lists): a class counts in an image only with at least
``min_class_pixels`` pixels (2·32·32). Training items contain **no pixel** of a novel class and
offer their base classes; validation items offer their novel classes.

:func:`build_data` turns a :class:`~symnet_core.training.config.DataConfig` into a
:class:`FewShotData` (train / val / test splits, class names, base and novel classes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from PIL import Image

from symnet_core.inference.transforms import IGNORE_LABEL
from symnet_core.project.atomic import atomic_write_bytes
from symnet_core.training.config import DataConfig
from symnet_core.training.synthetic.generator import SyntheticFewShot

log = logging.getLogger(__name__)

__all__ = [
    "COCO_NAMES",
    "PASCAL_NAMES",
    "CocoJsonSource",
    "EpisodeSplit",
    "FewShotData",
    "FileSource",
    "RawEpisode",
    "SegmentationSource",
    "SyntheticSource",
    "base_lut",
    "binarise",
    "build_data",
    "build_split",
    "coco_fold_classes",
    "pascal_fold_classes",
    "read_label",
    "sample_episode",
    "scan_class_pixels",
]

#: VOC class names in label order (id 1..20), spelled as the word2vec table rows.
PASCAL_NAMES: tuple[str, ...] = (
    "airplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "table", "dog",
    "horse", "motorbike", "person", "potted plant", "sheep", "sofa", "train", "tv",
)  # fmt: skip
#: COCO class names in contiguous id order (1..80).
COCO_NAMES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


# ----------------------------------------------------------------------------------------------
# Labels
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Class index and splits
# ----------------------------------------------------------------------------------------------


def scan_class_pixels(
    source: SegmentationSource, cache: Path | None = None, progress: Callable[[int, int], None] | None = None
) -> list[dict[int, int]]:
    """Pixel count of every class (0 and 255 excluded) in every item; cached as JSON when ``cache``."""
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("n") == len(source):
            return [{int(k): int(v) for k, v in d.items()} for d in data["counts"]]
    counts: list[dict[int, int]] = []
    for i in range(len(source)):
        _, label = source.load(i)
        hist = np.bincount(label.ravel().astype(np.int64), minlength=256)
        counts.append({int(c): int(hist[c]) for c in np.nonzero(hist)[0] if c not in (0, IGNORE_LABEL)})
        if progress is not None and (i + 1) % 200 == 0:
            progress(i + 1, len(source))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cache, json.dumps({"n": len(source), "counts": counts}).encode("utf-8"))
    return counts


@dataclass
class EpisodeSplit:
    """The episode lists of one split.

    Attributes:
        source: images and labels.
        data_list: query candidates in list order: (item, classes the episode may use).
        by_class: class → items that contain it (support candidates).
        classes: the classes episodes of this split are about.
        name: for messages.
    """

    source: Any
    data_list: list[tuple[int, tuple[int, ...]]]
    by_class: dict[int, Sequence[int]]
    classes: tuple[int, ...]
    name: str = "split"

    def __len__(self) -> int:
        return len(self.data_list)


def build_split(
    source: SegmentationSource,
    counts: Sequence[Mapping[int, int]],
    episode_classes: Sequence[int],
    *,
    min_pixels: int,
    exclude_classes: Sequence[int] = (),
    shots: int = 1,
    items: Sequence[int] | None = None,
    name: str = "split",
    allow_empty: bool = False,
) -> EpisodeSplit:
    """Build an :class:`EpisodeSplit` from per-item class pixel counts.

    Args:
        counts: :func:`scan_class_pixels` output. episode_classes: classes episodes may use.
        min_pixels: a class counts in an item only with this many pixels.
        exclude_classes: items with *any* pixel of these are left out (training: the novel classes).
        shots: classes with fewer than ``shots + 1`` items are dropped (with a warning).
        items: restrict to these item numbers (default all).
        allow_empty: return an empty split instead of raising when nothing qualifies.
    """
    wanted = set(int(c) for c in episode_classes)
    excluded = set(int(c) for c in exclude_classes)
    by_class: dict[int, list[int]] = {c: [] for c in sorted(wanted)}
    data_list: list[tuple[int, tuple[int, ...]]] = []
    for i in items if items is not None else range(len(counts)):
        cnt = counts[i]
        if excluded.intersection(cnt):
            continue
        valid = tuple(sorted(c for c, n in cnt.items() if c in wanted and n >= min_pixels))
        if not valid:
            continue
        data_list.append((i, valid))
        for c in valid:
            by_class[c].append(i)
    too_few = [c for c, lst in by_class.items() if len(lst) < shots + 1]
    if too_few:
        if any(by_class[c] for c in too_few):
            log.warning("%s: classes %s have fewer than %d images and are not used", name, too_few, shots + 1)
        keep = set(by_class) - set(too_few)
        data_list = [(i, tuple(c for c in cl if c in keep)) for i, cl in data_list]
        data_list = [(i, cl) for i, cl in data_list if cl]
        by_class = {c: lst for c, lst in by_class.items() if c in keep}
    if not data_list and not allow_empty:
        raise ValueError(f"{name}: no usable episodes (no item has a class with >= {min_pixels} pixels)")
    return EpisodeSplit(source, data_list, by_class, tuple(sorted(by_class)), name)


def _synthetic_split(source: SyntheticSource, name: str) -> EpisodeSplit:
    n, k = len(source), len(source.main_classes)
    data_list = [(i, (source.main_class(i),)) for i in range(n)]
    by_class: dict[int, Sequence[int]] = {c: range(j, n, k) for j, c in enumerate(source.main_classes)}
    return EpisodeSplit(source, data_list, by_class, tuple(sorted(source.main_classes)), name)


# ----------------------------------------------------------------------------------------------
# Episodes
# ----------------------------------------------------------------------------------------------


@dataclass
class RawEpisode:
    """One episode before augmentation.

    Attributes:
        class_id: dataset id of the episode's class.
        query_image: HxWx3 uint8. query_label: HxW uint8, 1 class / 0 other / 255 ignore.
        query_base: HxW uint8 base-learner label (base class i → i+1, others 0, 255 ignore).
        support_images / support_labels: K items, same conventions as the query.
        names: item names, query first.
    """

    class_id: int
    query_image: np.ndarray
    query_label: np.ndarray
    query_base: np.ndarray
    support_images: list[np.ndarray]
    support_labels: list[np.ndarray]
    names: list[str] = field(default_factory=list)


def sample_episode(
    split: EpisodeSplit, position: int, rng: np.random.Generator, shots: int, lut: np.ndarray
) -> RawEpisode:
    """Episode for query ``data_list[position % len]``: random valid class, K random distinct supports.

    Supports are other items containing the class; when fewer than K exist, items repeat.
    """
    item, classes = split.data_list[position % len(split.data_list)]
    cls = int(classes[int(rng.integers(len(classes)))])
    cands = split.by_class[cls]
    others = len(cands) - (1 if item in cands else 0)
    chosen: list[int] = []
    while len(chosen) < shots:
        j = int(cands[int(rng.integers(len(cands)))])
        if j == item and others > 0:
            continue
        if j in chosen and others >= shots:
            continue
        chosen.append(j)
    q_img, q_lab = split.source.load(item)
    sup = [split.source.load(j) for j in chosen]
    return RawEpisode(
        class_id=cls,
        query_image=q_img,
        query_label=binarise(q_lab, cls),
        query_base=lut[q_lab],
        support_images=[s[0] for s in sup],
        support_labels=[binarise(s[1], cls) for s in sup],
        names=[split.source.item_name(item), *(split.source.item_name(j) for j in chosen)],
    )


# ----------------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------------


@dataclass
class FewShotData:
    """Everything a run needs to know about its data.

    Attributes:
        kind: dataset kind. class_names: ``{dataset id: name}`` for every class.
        base_classes: dataset ids of the base classes, in base-learner order (index i → channel i+1).
        novel_classes: dataset ids of the fold's novel classes.
        train: episodes of base classes. val: episodes for validation during training.
        test: episodes for ``symnet-eval`` (the same as ``val`` for the real datasets).
        base_val: images for the base learner's validation (labels through :attr:`lut`).
        lut: dataset id → base-learner index table (:func:`base_lut`).
        description: plain data about the dataset for checkpoints.
        attributes: synthetic data only: ``{name: (label → attribute table, number of values)}``
            for the base classes (auxiliary targets of the base stage); empty otherwise.
    """

    kind: str
    class_names: dict[int, str]
    base_classes: tuple[int, ...]
    novel_classes: tuple[int, ...]
    train: EpisodeSplit
    val: EpisodeSplit
    test: EpisodeSplit
    base_val: EpisodeSplit
    description: dict[str, Any]
    attributes: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)
    lut: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.lut = base_lut(self.base_classes)

    @property
    def base_class_names(self) -> tuple[str, ...]:
        return tuple(self.class_names[c] for c in self.base_classes)

    def split(self, name: str) -> EpisodeSplit:
        if name not in ("train", "val", "test", "base_val"):
            raise ValueError(f"unknown split {name!r}")
        return getattr(self, name)


def pascal_fold_classes(fold: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(base, novel) class ids of PASCAL-5i fold ``fold``: novel = 5·fold+1 … 5·fold+5."""
    if fold not in range(4):
        raise ValueError(f"PASCAL-5i fold must be 0..3, got {fold}")
    novel = tuple(range(5 * fold + 1, 5 * fold + 6))
    return tuple(c for c in range(1, 21) if c not in novel), novel


def coco_fold_classes(fold: int, mode: str = "interleaved") -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(base, novel) class ids of COCO-20i fold ``fold`` (interleaved: fold+1, fold+5, …, fold+77)."""
    if fold not in range(4):
        raise ValueError(f"COCO-20i fold must be 0..3, got {fold}")
    if mode == "interleaved":
        novel = tuple(range(fold + 1, 81, 4))
    elif mode == "contiguous":
        novel = tuple(range(20 * fold + 1, 20 * fold + 21))
    else:
        raise ValueError(f"COCO split must be 'interleaved' or 'contiguous', got {mode!r}")
    return tuple(c for c in range(1, 81) if c not in novel), novel


def _read_list(root: Path, list_file: Path, image_dir: str, label_dir: str, image_ext: str) -> list[tuple[Path, Path]]:
    """Pairs from a list file: lines ``<id>`` or ``<image path> <label path>`` (relative to root)."""
    pairs = []
    for raw in list_file.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 2:
            pairs.append((root / parts[0].lstrip("/"), root / parts[1].lstrip("/")))
        else:
            stem = parts[0]
            pairs.append((root / image_dir / f"{stem}{image_ext}", root / label_dir / f"{stem}.png"))
    return pairs


def _index_cache(cfg: DataConfig, root: Path, tag: str, signature: str) -> Path:
    base = Path(cfg.index_cache) if cfg.index_cache else root / ".symnet_index"
    return base / f"{tag}-{signature}.json"


def _real_splits(
    cfg: DataConfig,
    root: Path,
    train_src: Any,
    val_src: Any,
    base: tuple[int, ...],
    novel: tuple[int, ...],
    shots: int,
    tag: str,
) -> tuple[EpisodeSplit, EpisodeSplit, EpisodeSplit]:
    log_progress = lambda d, n: log.info("indexing %s: %d/%d labels", tag, d, n)  # noqa: E731
    tc = scan_class_pixels(train_src, _index_cache(cfg, root, f"{tag}-train", train_src.signature()), log_progress)
    vc = scan_class_pixels(val_src, _index_cache(cfg, root, f"{tag}-val", val_src.signature()), log_progress)
    mp = cfg.min_class_pixels
    train = build_split(train_src, tc, base, min_pixels=mp, exclude_classes=novel, shots=shots, name=f"{tag} train")
    val = build_split(val_src, vc, novel, min_pixels=mp, shots=shots, name=f"{tag} val")
    base_val = build_split(val_src, vc, base, min_pixels=1, shots=0, name=f"{tag} base val", allow_empty=True)
    return train, val, base_val


def _pascal(cfg: DataConfig, shots: int) -> FewShotData:
    root = Path(cfg.root or ".")
    base, novel = pascal_fold_classes(cfg.fold)

    def pairs(given: str | None, defaults: Sequence[str]) -> list[tuple[Path, Path]]:
        candidates = [Path(given)] if given else [root / d for d in defaults]
        for c in candidates:
            if c.is_file():
                return _read_list(root, c, "JPEGImages", "SegmentationClassAug", ".jpg")
        raise FileNotFoundError(f"PASCAL list not found; looked for {[str(c) for c in candidates]}")

    train_src = FileSource(pairs(cfg.train_list, ["ImageSets/SegmentationAug/train_aug.txt",
                                                  "ImageSets/Segmentation/train.txt"]), "pascal-train")  # fmt: skip
    val_src = FileSource(pairs(cfg.val_list, ["ImageSets/Segmentation/val.txt"]), "pascal-val")
    train, val, base_val = _real_splits(cfg, root, train_src, val_src, base, novel, shots, f"pascal-fold{cfg.fold}")
    names = {i + 1: n for i, n in enumerate(PASCAL_NAMES)}
    desc = {"kind": "pascal", "fold": cfg.fold, "root": str(root), "train_images": len(train), "val_images": len(val)}
    return FewShotData("pascal", names, base, novel, train, val, val, base_val, desc)


def _coco(cfg: DataConfig, shots: int) -> FewShotData:
    root = Path(cfg.root or ".")
    base, novel = coco_fold_classes(cfg.fold, cfg.coco.split)

    def source(split: str, given: str | None) -> Any:
        if cfg.coco.annotations == "json":
            return CocoJsonSource(root / f"{split}2014", root / "annotations" / f"instances_{split}2014.json")
        if cfg.coco.annotations != "png":
            raise ValueError(f"data.coco.annotations must be 'png' or 'json', got {cfg.coco.annotations!r}")
        if given:
            return FileSource(_read_list(root, Path(given), f"{split}2014", f"annotations/{split}2014", ".jpg"),
                              f"coco-{split}")  # fmt: skip
        img_dir, lab_dir = root / f"{split}2014", root / "annotations" / f"{split}2014"
        found = [(p, lab_dir / f"{p.stem}.png") for p in sorted(img_dir.glob("*.jpg"))]
        found = [(a, b) for a, b in found if b.is_file()]
        if not found:
            raise FileNotFoundError(f"no COCO images with PNG labels under {img_dir} / {lab_dir}")
        return FileSource(found, f"coco-{split}")

    train_src, val_src = source("train", cfg.train_list), source("val", cfg.val_list)
    names = dict(train_src.class_names) if isinstance(train_src, CocoJsonSource) else {
        i + 1: n for i, n in enumerate(COCO_NAMES)}  # fmt: skip
    train, val, base_val = _real_splits(cfg, root, train_src, val_src, base, novel, shots, f"coco-fold{cfg.fold}")
    desc = {"kind": "coco", "fold": cfg.fold, "split": cfg.coco.split, "root": str(root),
            "train_images": len(train), "val_images": len(val)}  # fmt: skip
    return FewShotData("coco", names, base, novel, train, val, val, base_val, desc)


def read_class_file(path: Path) -> dict[int, str]:
    """``{id: name}`` from ``labelmap.txt`` (``id<TAB>name[...]``) or a plain name-per-line file.

    Plain files: line k (1-based, blank and ``#`` lines skipped) is class id k, except that a first
    line ``background`` is id 0. Id 0 is not returned.
    """
    lines = [ln.rstrip("\n") for ln in path.read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    out: dict[int, str] = {}
    if lines and all("\t" in ln and ln.split("\t", 1)[0].strip().isdigit() for ln in lines):
        for ln in lines:
            cid, name = ln.split("\t")[:2]
            out[int(cid)] = name.strip()
    else:
        offset = 0 if lines and lines[0].strip().lower() == "background" else 1
        for k, ln in enumerate(lines):
            out[k + offset] = ln.strip()
    out.pop(0, None)
    if not out:
        raise ValueError(f"{path}: no class names")
    if max(out) == IGNORE_LABEL or IGNORE_LABEL in out:
        raise ValueError(f"{path}: class id 255 is reserved for 'ignore'")
    return out


def _folder(cfg: DataConfig, shots: int) -> FewShotData:
    root = Path(cfg.root or ".")
    fc = cfg.folder
    names = read_class_file(root / fc.classes_file)
    img_root, mask_root = root / fc.images_dir, root / fc.masks_dir
    pairs = []
    for p in sorted(img_root.rglob("*")):
        if p.suffix.lower() not in _IMAGE_EXTS or any(part.startswith(".") for part in p.relative_to(img_root).parts):
            continue
        m = mask_root / p.relative_to(img_root).with_suffix(".png")
        if m.is_file():
            pairs.append((p, m))
    if not pairs:
        raise FileNotFoundError(f"no image under {img_root} has a mask under {mask_root}")
    lookup = {n.strip().lower(): c for c, n in names.items()}
    unknown = [n for n in fc.novel_classes if n.strip().lower() not in lookup]
    if unknown:
        raise ValueError(f"novel classes {unknown} are not in {fc.classes_file}")
    novel = tuple(sorted(lookup[n.strip().lower()] for n in fc.novel_classes))
    base = tuple(c for c in sorted(names) if c not in novel)
    src = FileSource(pairs, "folder")
    counts = scan_class_pixels(src, _index_cache(cfg, root, "folder", src.signature()))
    mp = cfg.min_class_pixels
    if novel:
        train = build_split(src, counts, base, min_pixels=mp, exclude_classes=novel, shots=shots, name="folder train")
        val = build_split(src, counts, novel, min_pixels=mp, shots=shots, name="folder val")
        base_val = build_split(src, counts, base, min_pixels=1, shots=0, name="folder base val", allow_empty=True)
    else:
        held = [i for i in range(len(src))
                if (zlib.crc32(src.item_name(i).encode()) % 1000) < fc.val_fraction * 1000]  # fmt: skip
        rest = [i for i in range(len(src)) if i not in set(held)]
        train = build_split(src, counts, base, min_pixels=mp, shots=shots, items=rest, name="folder train")
        val = build_split(src, counts, base, min_pixels=mp, shots=shots, items=held, name="folder val")
        base_val = val
    desc = {"kind": "folder", "root": str(root), "images": len(src), "novel": [names[c] for c in novel]}
    return FewShotData("folder", names, base, novel, train, val, val, base_val, desc)


def _synthetic(cfg: DataConfig, shots: int) -> FewShotData:
    sc = cfg.synthetic
    gen = SyntheticFewShot(sc.seed, sc.n_classes, sc.held_out, size_range=tuple(sc.size_range),
                           min_main_fraction=sc.min_main_fraction, object_scale=sc.object_scale,
                           max_distractors=sc.max_distractors, clutter=sc.clutter,
                           min_train_difference=sc.min_train_difference)  # fmt: skip
    all_classes = tuple(range(1, gen.n_classes + 1))
    train = _synthetic_split(SyntheticSource(gen, "train", sc.train_items, gen.train_classes, gen.train_classes),
                             "synthetic train")  # fmt: skip
    val = _synthetic_split(SyntheticSource(gen, "val", sc.val_items, gen.novel_classes, all_classes), "synthetic val")
    test = _synthetic_split(SyntheticSource(gen, "test", sc.test_items, gen.novel_classes, all_classes),
                            "synthetic test")  # fmt: skip
    base_val = _synthetic_split(SyntheticSource(gen, "val", sc.val_items, gen.train_classes, gen.train_classes),
                                "synthetic base val")  # fmt: skip
    from symnet_core.training.synthetic.generator import ATTRIBUTES

    tables = gen.attribute_tables(gen.train_classes)
    attrs = {name: (tables[name], n + 1) for name, n in ATTRIBUTES.items()}
    return FewShotData("synthetic", gen.class_names, gen.train_classes, gen.novel_classes, train, val, test, base_val,
                       {"kind": "synthetic", **gen.describe()}, attrs)  # fmt: skip


def build_data(cfg: DataConfig, shots: int = 1) -> FewShotData:
    """Build the splits of the configured dataset (scans and caches the class index of real ones)."""
    builders = {"synthetic": _synthetic, "pascal": _pascal, "coco": _coco, "folder": _folder}
    if cfg.kind not in builders:
        raise ValueError(f"unknown data kind {cfg.kind!r}")
    return builders[cfg.kind](cfg, shots)


def resize_nearest(label: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map to (h, w)."""
    return cv2.resize(label, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
