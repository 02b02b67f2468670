"""Tiny Sym-Net models and synthetic inputs shared by the core tests (CPU, seconds)."""

from __future__ import annotations

import numpy as np
import torch

from symnet_core.model.config import SymNetConfig
from symnet_core.model.seeded_weights import seeded_state_dict
from symnet_core.model.symnet import SymNet

#: A narrow ResNet-50 at a 129 px input: 17×17 feature grid, pyramid (17, 8, 4, 2).
TINY = {"backbone_width": 8, "reduce_dim": 16, "image_size": 129, "num_base_outputs": 4, "text_dim": 12}


def tiny_model(shots: int = 1, seed: int = 0, **overrides: object) -> SymNet:
    cfg = SymNetConfig(**{**TINY, "shots": shots, **overrides})  # type: ignore[arg-type]
    model = SymNet(cfg)
    model.load_state_dict(seeded_state_dict(model.state_dict(), seed))
    return model.eval()


def scene(h: int, w: int, seed: int, box: tuple[float, float, float, float] = (0.25, 0.3, 0.7, 0.8)) -> tuple[
    np.ndarray, np.ndarray
]:
    """A noisy RGB uint8 image HxWx3 with a bright textured rectangle, and its bool mask HxW."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 90, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), bool)
    y0, x0, y1, x1 = int(box[0] * h), int(box[1] * w), int(box[2] * h), int(box[3] * w)
    mask[y0:y1, x0:x1] = True
    img[mask] = rng.integers(150, 255, (int(mask.sum()), 3), dtype=np.uint8)
    return img, mask


def episode_tensors(model: SymNet, batch: int, shots: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random normalised episode tensors: query [B,3,S,S], supports [B,K,3,S,S], labels [B,K,S,S], text [B,D]."""
    g = torch.Generator().manual_seed(seed)
    s = model.config.image_size
    query = torch.randn(batch, 3, s, s, generator=g)
    supports = torch.randn(batch, shots, 3, s, s, generator=g)
    labels = torch.zeros(batch, shots, s, s)
    labels[..., s // 4 : s // 2 + 8, s // 3 : (3 * s) // 4] = 1
    labels[..., -9:, :] = 255
    text = torch.randn(batch, model.config.text_dim, generator=g)
    return query, supports, labels, text
