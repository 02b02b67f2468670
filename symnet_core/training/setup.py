"""Training set-up: the learning-rate schedule, the run's length, loading the frozen parts of a
base-stage checkpoint, the temporary base-stage heads and the optimiser."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from symnet_core.model.checkpoints import CheckpointError, read_checkpoint
from symnet_core.model.symnet import SymNet
from symnet_core.training.config import TrainConfig
from symnet_core.training.losses import segmentation_ce

__all__ = ["AttributeHeads", "base_aux_head", "build_optimizer", "load_frozen_parts", "lr_at", "total_iterations"]

#: State-dict prefixes of the parts the meta stage takes from the base stage and keeps frozen.
FROZEN_PREFIXES = ("layer0.", "layer1.", "layer2.", "layer3.", "layer4.", "learner_base.")


def lr_at(it: int, total: int, lr: float, power: float = 0.9, warmup: int = 0) -> float:
    """Learning rate of iteration ``it`` (0-based): linear warm-up, then ``lr·(1 − it/total)^power``."""
    if warmup > 0 and it < warmup:
        return lr * (it + 1) / warmup
    return lr * max(0.0, 1.0 - it / max(total, 1)) ** power


def total_iterations(cfg: TrainConfig, train_items: int) -> tuple[int, int]:
    """(total iterations, iterations per epoch)."""
    o = cfg.optim
    per_epoch = o.iterations_per_epoch or max(1, math.ceil(train_items / o.batch_size))
    total = o.iterations if o.iterations is not None else int(o.epochs or 0) * per_epoch
    if total < 1:
        raise ValueError("the run has no iterations (optim.iterations / optim.epochs)")
    return total, per_epoch


def load_frozen_parts(model: SymNet, path: str | Path) -> dict[str, Any]:
    """Load backbone (layer0–4) and ``learner_base`` weights from a checkpoint into ``model``.

    Raises :class:`CheckpointError` when a key is missing or its shape differs. Returns the
    checkpoint's metadata (our format) or ``{}``.
    """
    info, state = read_checkpoint(path, "cpu")
    own = model.state_dict()
    wanted = {k: v for k, v in own.items() if k.startswith(FROZEN_PREFIXES)}
    missing = [k for k in wanted if k not in state]
    wrong = [f"{k} {tuple(state[k].shape)}≠{tuple(v.shape)}" for k, v in wanted.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]  # fmt: skip
    if missing or wrong:
        raise CheckpointError(
            f"{path}: backbone/base learner do not fit this model (missing {missing[:5]}, shapes {wrong[:5]})"
        )
    model.load_state_dict({k: state[k] for k in wanted}, strict=False)
    return {**dict(info.metadata), "base_classes": list(info.base_classes)}


def base_aux_head(in_ch: int, classes: int) -> nn.Sequential:
    """PSPNet-style auxiliary classifier: ``[B,in_ch,h,w]`` features to ``[B,classes,h,w]`` logits."""
    hidden = max(in_ch // 4, 8)
    return nn.Sequential(
        nn.Conv2d(in_ch, hidden, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
        nn.Dropout2d(p=0.1), nn.Conv2d(hidden, classes, kernel_size=1),
    )  # fmt: skip


class AttributeHeads(nn.Module):
    """Temporary 1×1 classifiers of per-pixel attributes on layer 3 and layer 4 (base stage only)."""

    def __init__(self, c3: int, c4: int, tables: dict[str, tuple[np.ndarray, int]]) -> None:
        super().__init__()
        self.names = sorted(tables)
        self.l3 = nn.ModuleList(nn.Conv2d(c3, tables[n][1], kernel_size=1) for n in self.names)
        self.l4 = nn.ModuleList(nn.Conv2d(c4, tables[n][1], kernel_size=1) for n in self.names)
        for n in self.names:
            self.register_buffer(f"lut_{n}", torch.from_numpy(tables[n][0].astype(np.int64)), persistent=False)

    def loss(self, l3: torch.Tensor, l4: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        terms = []
        for i, n in enumerate(self.names):
            target = getattr(self, f"lut_{n}")[raw.long().clamp(0, 255)]
            terms.append(segmentation_ce(self.l3[i](l3), target))
            terms.append(segmentation_ce(self.l4[i](l4), target))
        return torch.stack(terms).mean()


def build_optimizer(cfg: TrainConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """AdamW or SGD with momentum, as ``cfg.optim`` says."""
    o = cfg.optim
    if o.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
