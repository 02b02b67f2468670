"""Few-shot episodes from PASCAL-5i, COCO-20i, a user folder or the synthetic dataset (the BAM / PFENet protocols).

Pieces: sources of items (:mod:`.sources`), the class index, splits and episode sampling
(:mod:`.episodes`); this module builds a run's splits from its data configuration.

Split rules (as the BAM/PFENet lists): a class counts in an image only with at least
``min_class_pixels`` pixels (2·32·32). Training items contain **no pixel** of a novel class and
offer their base classes; validation items offer their novel classes.

:func:`build_data` turns a :class:`~symnet_core.training.config.DataConfig` into a
:class:`FewShotData` (train / val / test splits, class names, base and novel classes).
"""


from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symnet_core.inference.transforms import IGNORE_LABEL
from symnet_core.training.config import DataConfig
from symnet_core.training.episodes import EpisodeSplit, build_split, scan_class_pixels, synthetic_split
from symnet_core.training.sources import CocoJsonSource, FileSource, SyntheticSource, base_lut
from symnet_core.training.synthetic.generator import SyntheticFewShot

log = logging.getLogger(__name__)

__all__ = ["COCO_NAMES", "PASCAL_NAMES", "FewShotData", "build_data", "coco_fold_classes", "pascal_fold_classes",
           "read_class_file"]  # fmt: skip

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
    train = synthetic_split(SyntheticSource(gen, "train", sc.train_items, gen.train_classes, gen.train_classes),
                             "synthetic train")  # fmt: skip
    val = synthetic_split(SyntheticSource(gen, "val", sc.val_items, gen.novel_classes, all_classes), "synthetic val")
    test = synthetic_split(SyntheticSource(gen, "test", sc.test_items, gen.novel_classes, all_classes),
                            "synthetic test")  # fmt: skip
    base_val = synthetic_split(SyntheticSource(gen, "val", sc.val_items, gen.train_classes, gen.train_classes),
                                "synthetic base val")  # fmt: skip
    from symnet_core.training.synthetic.classes import ATTRIBUTES

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
