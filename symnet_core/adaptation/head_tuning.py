"""Test-time adaptation: fine-tune a copy of Sym-Net's head on episodes built from the supports.

Why: a checkpoint trained on other classes may under-use what a user's own supports show. With
several painted supports each one can act as a query for the others (leave-one-out episodes),
which gives real training signal for exactly the class being annotated.

What is trained: only the meta-learner head (:meth:`SymNet.head_names`); the backbone and the
base learner stay frozen, in eval mode, and shared with every other predictor. The training runs
on a copy of the head (:meth:`SymNet.with_own_head`), so cancelling leaves the predictor as it was.

Episodes (``batch_size`` per step, all on the model canvas S×S):

* n ≥ 2 supports — leave-one-out: the query is an augmented view of support *i*; the shots are
  the other supports (each augmented with probability ½, else exactly as at inference), K of
  them for a K-shot model (cycled when fewer), one for a 1-shot model. *i* cycles over supports.
* n = 1 — augmentation only: query and shot are two views of the same support (the shot
  augmented with probability ½).

Views: the support is first resized as the letterbox would (long side S), then augmented as in
training (spec §2.2: scale, rotation, blur, flip, foreground-keeping crop;
:class:`symnet_core.training.augment.TrainAugment`). Loss: the training loss (main + aux +
triplet, :func:`symnet_core.training.losses.symnet_loss`) without the base-label term, plus
``anchor_weight`` · ‖θ − θ₀‖² (L2-SP: pulls the head towards the checkpoint's weights, so a few
supports cannot drag it far). SGD with momentum, constant learning rate after a short warm-up.

Safety check: before and after training, the supports are predicted as queries, un-augmented —
each from the others (leave-one-out IoU, n ≥ 2) or from itself (n = 1). If the adapted head
scores more than ``revert_tolerance`` below the original, it is discarded (``kept=False``): a
head that got worse on the user's own painted examples is not trusted on the rest.

Files: an adapted head is stored per class in the project (``.symnet/adapted/class-<id>.pth``,
:mod:`symnet_core.adaptation.class_heads`) with the id of the checkpoint it was made from
(:func:`save_adapted_head`); it is only applied to that checkpoint.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from symnet_core.cancel import CancelLike, check_cancel
from symnet_core.inference.transforms import FIT, IGNORE_LABEL, Letterbox, image_to_model, mask_to_model
from symnet_core.model.symnet import SymNet
from symnet_core.project.atomic import atomic_write_stream
from symnet_core.training.augment import TrainAugment
from symnet_core.training.config import AugmentConfig
from symnet_core.training.losses import symnet_loss

log = logging.getLogger(__name__)

__all__ = [
    "AdaptConfig",
    "AdaptReport",
    "AdaptedHead",
    "AdaptedHeadError",
    "adapt_head",
    "load_adapted_head",
    "save_adapted_head",
]

HEAD_FORMAT = "symnet-adapted-head"
HEAD_FORMAT_VERSION = 1

Progress = Callable[[int, int], None]


class AdaptedHeadError(ValueError):
    """An adapted-head file that cannot be used (unreadable, wrong format, other checkpoint)."""


@dataclass(frozen=True)
class AdaptConfig:
    """Settings of one adaptation run (defaults measured on the demo model: docs/training.md).

    Attributes:
        steps: optimisation steps. batch_size: episodes per step.
        lr: SGD learning rate (constant after ``warmup_steps`` linear warm-up); momentum, weight_decay.
        anchor_weight: L2-SP weight on ‖θ − θ₀‖² (sum over head parameters).
        aux_weight, triplet_margin: as in training (spec §1.15).
        augment: view augmentation (spec §2.2 defaults).
        seed: all randomness (episode order, augmentation) comes from it.
        revert_tolerance: discard the adapted head when its support check IoU is lower than the
            original's by more than this (module docstring).
    """

    steps: int = 30
    batch_size: int = 4
    lr: float = 0.005
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_steps: int = 3
    anchor_weight: float = 0.0
    aux_weight: float = 1.0
    triplet_margin: float = 0.5
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    revert_tolerance: float = 0.02

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be ≥ 1, got {self.steps}, {self.batch_size}")
        if not self.lr > 0 or self.anchor_weight < 0:
            raise ValueError(f"need lr > 0 and anchor_weight ≥ 0, got {self.lr}, {self.anchor_weight}")


@dataclass(frozen=True)
class AdaptReport:
    """What an adaptation run did.

    Attributes:
        steps: steps run. supports: number of supports. episodes: ``"leave-one-out"`` or
        ``"augmentation-only"``. loss_start / loss_end: mean total loss over the first / last
        few steps. check: ``"leave-one-out"`` (each support predicted from the others) or
        ``"self"`` (the single support predicted from itself). check_iou_before /
        check_iou_after: that IoU (un-augmented, pooled intersection / union) with the original
        and the adapted head. kept: the adapted head passed the check (else it was discarded).
        seconds: wall time.
    """

    steps: int
    supports: int
    episodes: str
    loss_start: float
    loss_end: float
    check: str
    check_iou_before: float
    check_iou_after: float
    kept: bool
    seconds: float

    def describe(self) -> str:
        verdict = "" if self.kept else " — worse on the supports, discarded (checkpoint head kept)"
        return (f"adapted on {self.supports} support(s), {self.steps} steps ({self.episodes}): "
                f"loss {self.loss_start:.3f} → {self.loss_end:.3f}, {self.check} IoU "
                f"{self.check_iou_before:.3f} → {self.check_iou_after:.3f}, {self.seconds:.1f} s{verdict}")  # fmt: skip


@dataclass(frozen=True)
class _Support:
    """One support prepared for episodes: the letterbox-scale image and mask, and its clean canvas."""

    image: np.ndarray  # h×w×3 uint8 at the letterbox scale (long side ≤ S)
    label: np.ndarray  # h×w uint8, 1 object / 0 background
    canvas: np.ndarray  # [3,S,S] float32, exactly what inference sees
    canvas_label: np.ndarray  # S×S uint8, 1/0, 255 padding


def _prepare(image: np.ndarray, mask: np.ndarray, size: int, resize: str) -> _Support:
    box = Letterbox.fit(image.shape[0], image.shape[1], size, resize)
    canvas = image_to_model(image, box)
    canvas_label = mask_to_model(mask, box).astype(np.uint8)
    if (box.new_h, box.new_w) == (box.orig_h, box.orig_w):
        small, label = image, mask.astype(np.uint8)
    else:
        small = cv2.resize(image, (box.new_w, box.new_h), interpolation=cv2.INTER_AREA)
        label = cv2.resize(mask.astype(np.uint8), (box.new_w, box.new_h), interpolation=cv2.INTER_NEAREST)
    return _Support(np.ascontiguousarray(small), label, canvas, canvas_label)


class _EpisodeSampler:
    """Draws batches of (query, shots) episodes from the supports (module docstring)."""

    def __init__(self, supports: Sequence[_Support], shots: int, size: int, cfg: AdaptConfig) -> None:
        self.supports = supports
        self.k = shots
        self.aug = TrainAugment(cfg.augment, size)
        self.rng = np.random.default_rng(cfg.seed)
        self._next_query = 0

    def _view(self, s: _Support, augment: bool) -> tuple[np.ndarray, np.ndarray]:
        if not augment:
            return s.canvas, s.canvas_label
        img, (lab,) = self.aug(s.image, [s.label], self.rng)
        return img, lab

    def _shots_for(self, qi: int) -> list[int]:
        n = len(self.supports)
        pool = [i for i in range(n) if i != qi] or [qi]
        if len(pool) >= self.k:
            return [int(i) for i in self.rng.choice(pool, size=self.k, replace=False)]
        start = int(self.rng.integers(len(pool)))
        return [pool[(start + j) % len(pool)] for j in range(self.k)]

    def batch(self, b: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(query [B,3,S,S], query labels [B,S,S], shots [B,K,3,S,S], shot labels [B,K,S,S])."""
        qs, qls, ss, sls = [], [], [], []
        for _ in range(b):
            qi = self._next_query % len(self.supports)
            self._next_query += 1
            q, ql = self._view(self.supports[qi], True)
            views = [self._view(self.supports[j], bool(self.rng.random() < 0.5)) for j in self._shots_for(qi)]
            qs.append(q)
            qls.append(ql)
            ss.append(np.stack([v[0] for v in views]))
            sls.append(np.stack([v[1] for v in views]))
        return (torch.from_numpy(np.stack(qs)), torch.from_numpy(np.stack(qls).astype(np.int64)),
                torch.from_numpy(np.stack(ss)), torch.from_numpy(np.stack(sls).astype(np.int64)))  # fmt: skip


def _forward(model: SymNet, q: torch.Tensor, shots: torch.Tensor, shot_labels: torch.Tensor, text: torch.Tensor,
             with_base: bool, aux: bool) -> tuple[Any, list[Any]]:  # fmt: skip
    b = q.shape[0]
    tb = text.expand(b, -1)
    encoded = [model.encode_support(shots[:, i], shot_labels[:, i], tb) for i in range(shots.shape[1])]
    query = model.encode_query(q, with_base=with_base)
    return model.decode(query, encoded, tb, return_aux=aux), encoded


@torch.no_grad()
def _support_check_iou(
    model: SymNet, supports: Sequence[_Support], text: torch.Tensor, device: torch.device, with_base: bool,
    cancel: CancelLike | None = None,
) -> float:
    """Pooled IoU of each support predicted from the others (from itself when n = 1), clean canvases."""
    n = len(supports)
    k = model.config.shots
    inter = union = 0
    for i, s in enumerate(supports):
        check_cancel(cancel)
        others = [j for j in range(n) if j != i] or [i]
        chosen = [others[j % len(others)] for j in range(k)] if k > 1 else others
        label = torch.from_numpy(s.canvas_label.astype(np.int64))
        valid = label != IGNORE_LABEL
        truth = (label == 1) & valid
        # 1-shot model and several others: average the probabilities of one pass per other support
        prob = torch.zeros(label.shape)
        groups = [chosen] if k > 1 else [[j] for j in chosen]
        for group in groups:
            check_cancel(cancel)
            shots = torch.from_numpy(np.stack([supports[j].canvas for j in group]))[None].to(device)
            labels = torch.from_numpy(np.stack([supports[j].canvas_label for j in group]).astype(np.int64))[None]
            out, _ = _forward(model, torch.from_numpy(s.canvas)[None].to(device), shots, labels.to(device), text,
                              with_base, aux=False)  # fmt: skip
            logits = out.final if with_base else out.meta
            prob += logits.float().softmax(dim=1)[0, 1].cpu() / len(groups)
        pred = (prob > 0.5) & valid
        inter += int((pred & truth).sum())
        union += int((pred | truth).sum())
    return inter / union if union else 1.0


def adapt_head(
    model: SymNet,
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    text: torch.Tensor,
    config: AdaptConfig | None = None,
    *,
    device: torch.device | None = None,
    with_base: bool = True,
    resize: str = FIT,
    progress: Progress | None = None,
    cancel: CancelLike | None = None,
) -> tuple[SymNet, AdaptReport]:
    """Train a copy of ``model``'s head on episodes of the supports; ``model`` is not modified.

    Args:
        model: the checkpoint's model (eval mode). images: HxWx3 uint8 supports; masks: HxW bool.
        text: [1,D] class-name vector (as the predictor uses it).
        with_base: train through the ensemble output (``False``: meta-only predictors).
        resize: letterbox mode of the predictor (``"fit"`` / ``"shrink-only"``,
            :mod:`symnet_core.inference.transforms`), so that training views match inference.
        progress: ``progress(step, steps)`` after every step. cancel: ``is_set()`` polled before
            and inside every step and between the support-check predictions; raises
            :class:`symnet_core.cancel.OperationCancelled` (nothing changed).

    Returns:
        (the adapted model — shares frozen parts with ``model``, eval mode — and the report);
        ``model`` itself when the adapted head failed the support check (``report.kept`` False).
    """
    cfg = config or AdaptConfig()
    if len(images) == 0 or len(images) != len(masks):
        raise ValueError(f"need ≥ 1 support and one mask each, got {len(images)} images, {len(masks)} masks")
    t0 = time.monotonic()
    dev = device or next(model.parameters()).device
    size = model.config.image_size
    supports = [_prepare(img, np.asarray(m, bool), size, resize) for img, m in zip(images, masks, strict=True)]
    text = text.to(dev).float()
    check_before = _support_check_iou(model, supports, text, dev, with_base, cancel)

    adapted = model.with_own_head()
    params = adapted.prepare_head_training()
    anchors = [p.detach().clone() for p in params]
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sampler = _EpisodeSampler(supports, model.config.shots, size, cfg)
    adapted.head_train_mode()
    losses: list[float] = []
    try:
        with torch.enable_grad():
            for step in range(cfg.steps):
                check_cancel(cancel)
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
                q, ql, s, sl = (t.to(dev) for t in sampler.batch(cfg.batch_size))
                out, encoded = _forward(adapted, q, s, sl, text, with_base, aux=True)
                check_cancel(cancel)  # a step can take seconds on a CPU: also look between forward and backward
                terms = symnet_loss(out, encoded, ql, None, sl, aux_weight=cfg.aux_weight, margin=cfg.triplet_margin)
                loss = terms.total
                if cfg.anchor_weight > 0:
                    drift = sum(((p - a) ** 2).sum() for p, a in zip(params, anchors, strict=True))
                    loss = loss + cfg.anchor_weight * drift
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(terms.total.detach()))
                if progress is not None:
                    progress(step + 1, cfg.steps)
    finally:
        adapted.eval()
        for p in params:
            p.requires_grad_(False)
    check_after = _support_check_iou(adapted, supports, text, dev, with_base, cancel)
    kept = check_after >= check_before - cfg.revert_tolerance
    tail = max(1, min(5, len(losses) // 3))
    several = len(supports) > 1
    report = AdaptReport(
        steps=len(losses), supports=len(supports), episodes="leave-one-out" if several else "augmentation-only",
        loss_start=float(np.mean(losses[:tail])), loss_end=float(np.mean(losses[-tail:])),
        check="leave-one-out" if several else "self", check_iou_before=check_before, check_iou_after=check_after,
        kept=kept, seconds=time.monotonic() - t0,
    )  # fmt: skip
    log.info("%s", report.describe())
    return (adapted if kept else model), report


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdaptedHead:
    """An adapted head read from disk.

    Attributes:
        state: head parameters (official key names). base_model: ``checkpoint_id`` of the model it
        was trained from. metadata: class name, supports used, report, settings.
    """

    state: dict[str, torch.Tensor]
    base_model: str
    metadata: dict[str, Any]


def save_adapted_head(
    path: str | os.PathLike[str], state: dict[str, torch.Tensor], base_model: str, metadata: dict[str, Any]
) -> Path:
    """Write an adapted head atomically (temporary file + rename); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "format": HEAD_FORMAT,
        "version": HEAD_FORMAT_VERSION,
        "base_model": base_model,
        "metadata": metadata,
        "state_dict": {k: v.detach().cpu() for k, v in state.items()},
    }
    atomic_write_stream(path, lambda f: torch.save(blob, f))
    return path


def load_adapted_head(
    path: str | os.PathLike[str], expected_base_model: str | None = None, *, lazy: bool = False
) -> AdaptedHead:
    """Read an adapted head (``weights_only``); check it was made from ``expected_base_model``.

    ``lazy=True`` memory-maps the file instead of reading the tensors (a ResNet-50 head is 45 MB):
    for callers that only look at the metadata.

    Raises:
        AdaptedHeadError: unreadable file, wrong format, or made from another checkpoint.
    """
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True, mmap=lazy)
    except Exception as exc:  # any unpickling / IO failure means "unusable file"
        raise AdaptedHeadError(f"{path}: cannot read adapted head ({exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != HEAD_FORMAT:
        raise AdaptedHeadError(f"{path}: not a symnet-annotate adapted head")
    if int(blob.get("version", 0)) > HEAD_FORMAT_VERSION:
        raise AdaptedHeadError(f"{path}: made by a newer version (format {blob.get('version')})")
    base = str(blob.get("base_model", ""))
    if expected_base_model is not None and base != expected_base_model:
        raise AdaptedHeadError(f"{path}: adapted from {base}, not from the loaded model {expected_base_model}")
    state = blob.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise AdaptedHeadError(f"{path}: no head weights in the file")
    return AdaptedHead(state, base, dict(blob.get("metadata") or {}))


def config_dict(cfg: AdaptConfig) -> dict[str, Any]:
    """JSON-friendly form of a config (stored with the head)."""
    return asdict(cfg)
