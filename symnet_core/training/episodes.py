"""Few-shot episodes from a source: the class index, episode splits and episode sampling.

* a **class index** (:func:`scan_class_pixels`) counts the pixels of every class in every label,
  cached as JSON for the real datasets;
* an :class:`EpisodeSplit` is what the authors' lists hold: the query list ``data_list`` (item,
  valid classes) and, per class, the items that may serve as supports (``by_class``);
* :func:`sample_episode` draws one episode: class among the query item's valid classes, K distinct
  supports of that class other than the query, labels binarised (class → 1, 255 kept, rest → 0),
  and the base-class label of the query (base classes → 1..N, everything else → 0, 255 kept).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symnet_core.inference.transforms import IGNORE_LABEL
from symnet_core.project.atomic import atomic_write_bytes
from symnet_core.training.sources import SegmentationSource, SyntheticSource, binarise

log = logging.getLogger(__name__)

__all__ = ["EpisodeSplit", "RawEpisode", "build_split", "sample_episode", "scan_class_pixels", "synthetic_split"]


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


def synthetic_split(source: SyntheticSource, name: str) -> EpisodeSplit:
    n, k = len(source), len(source.main_classes)
    data_list = [(i, (source.main_class(i),)) for i in range(n)]
    by_class: dict[int, Sequence[int]] = {c: range(j, n, k) for j, c in enumerate(source.main_classes)}
    return EpisodeSplit(source, data_list, by_class, tuple(sorted(source.main_classes)), name)


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
