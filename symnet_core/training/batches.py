"""Training batches, one per iteration, drawn from seeds ``(seed, stage, iteration)`` so that a
resumed run sees exactly the batches an uninterrupted one would. Items are numpy arrays
(``float32`` normalised images ``[B,3,S,S]``, ``uint8`` labels with 255 = ignore); the torch
``DataLoader`` only parallelises them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from symnet_core.training.augment import TrainAugment
from symnet_core.training.episodes import EpisodeSplit, sample_episode

__all__ = ["BaseBatches", "EpisodeBatches", "iterate_batches", "to_tensors"]


class EpisodeBatches(torch.utils.data.Dataset):
    """Map-style dataset: item ``it`` is the training batch of iteration ``it`` (meta stage).

    Returns numpy arrays: query [B,3,S,S] float32, y [B,S,S] uint8, y_base [B,S,S] uint8,
    supports [B,K,3,S,S], support labels [B,K,S,S], class ids [B], base indices [B].
    """

    def __init__(self, split: EpisodeSplit, lut: np.ndarray, shots: int, batch: int, augment: TrainAugment,
                 seed: int, length: int) -> None:  # fmt: skip
        self.split, self.lut, self.shots, self.batch = split, lut, shots, batch
        self.augment, self.seed, self.length = augment, seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, it: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, 1, it])
        q, y, yb, s, sl, cls = [], [], [], [], [], []
        for _ in range(self.batch):
            ep = sample_episode(self.split, int(rng.integers(len(self.split))), rng, self.shots, self.lut)
            img, (lab, base) = self.augment(ep.query_image, [ep.query_label, ep.query_base], rng)
            q.append(img)
            y.append(lab)
            yb.append(base)
            imgs, labs = [], []
            for si, sm in zip(ep.support_images, ep.support_labels, strict=True):
                a, (b,) = self.augment(si, [sm], rng)
                imgs.append(a)
                labs.append(b)
            s.append(np.stack(imgs))
            sl.append(np.stack(labs))
            cls.append(ep.class_id)
        return {
            "query": np.stack(q), "y": np.stack(y), "y_base": np.stack(yb), "supports": np.stack(s),
            "support_labels": np.stack(sl), "class_ids": np.asarray(cls, np.int64),
            "base_index": self.lut[np.asarray(cls)].astype(np.int64),
        }  # fmt: skip


class BaseBatches(torch.utils.data.Dataset):
    """Item ``it`` = base-stage batch: images [B,3,C,C] and base labels [B,C,C] (C = crop size)."""

    def __init__(self, split: EpisodeSplit, lut: np.ndarray, batch: int, augment: TrainAugment, seed: int,
                 length: int, raw_labels: bool = False) -> None:  # fmt: skip
        self.split, self.lut, self.batch = split, lut, batch
        self.augment, self.seed, self.length = augment, seed, length
        self.raw_labels = raw_labels

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, it: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, 2, it])
        xs, ys, raws = [], [], []
        for _ in range(self.batch):
            item = self.split.data_list[int(rng.integers(len(self.split)))][0]
            img, lab = self.split.source.load(item)
            labels = [self.lut[lab], lab] if self.raw_labels else [self.lut[lab]]
            x, out = self.augment(img, labels, rng)
            xs.append(x)
            ys.append(out[0])
            if self.raw_labels:
                raws.append(out[1])
        batch = {"image": np.stack(xs), "label": np.stack(ys)}
        if self.raw_labels:
            batch["raw"] = np.stack(raws)
        return batch


def _as_tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}


def iterate_batches(
    ds: torch.utils.data.Dataset, start: int, stop: int, workers: int, pin_memory: bool = False
) -> Iterator[dict[str, Any]]:
    """The batches of iterations ``start … stop-1`` in order. With workers, batches become tensors
    in the workers and, with ``pin_memory`` (CUDA), land in pinned memory for asynchronous copies."""
    if workers <= 0:
        for it in range(start, stop):
            yield ds[it]
        return
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(ds, range(start, stop)), batch_size=None, shuffle=False, num_workers=workers,
        collate_fn=_as_tensors, persistent_workers=False, prefetch_factor=2, pin_memory=pin_memory,
    )  # fmt: skip
    yield from loader


def to_tensors(batch: dict[str, np.ndarray | torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Each array (or tensor) as a tensor on ``device`` (same dtype and shape)."""
    out = {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}
    return {k: v.to(device, non_blocking=True) for k, v in out.items()}
