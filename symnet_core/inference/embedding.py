"""Image embeddings: one vector per image from the backbone features the predictor computes anyway.

Used to tell images apart by appearance (:mod:`symnet_core.workflows.suggest` ranks the images
worth annotating next by their distance from the supports). The embedding of an image is the
mean of its layer-4 backbone features over the cells of the feature grid that its content
covers on the letterboxed model canvas (padding excluded), L2-normalised. Queries get it from
the same forward pass as their prediction; supports from one extra backbone pass
(:meth:`symnet_core.inference.predictor.Predictor.embed`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from symnet_core.inference.transforms import Letterbox

__all__ = ["pooled_embeddings"]


def _covered_cells(box: Letterbox, grid: int) -> tuple[int, int]:
    """How many feature rows and columns the content of ``box`` covers on a ``grid``×``grid`` map."""
    rows = min(grid, max(1, math.ceil(box.new_h * grid / box.size)))
    cols = min(grid, max(1, math.ceil(box.new_w * grid / box.size)))
    return rows, cols


def pooled_embeddings(features: torch.Tensor, boxes: Sequence[Letterbox]) -> np.ndarray:
    """Mean-pool each item of ``features`` over its content area and L2-normalise.

    Args:
        features: ``[B,C,f,f]`` feature maps of ``B`` letterboxed canvases (any float dtype,
            any device); content sits at the canvas's top-left corner (:class:`Letterbox`).
        boxes: the ``B`` letterboxes, in the same order.

    Returns:
        float32 ``[B,C]``, each row of unit length (an all-zero pooled vector stays zero).
    """
    if features.ndim != 4 or features.shape[0] != len(boxes):
        raise ValueError(f"need [B,C,f,f] features for {len(boxes)} boxes, got {tuple(features.shape)}")
    grid = features.shape[-1]
    rows = []
    for item, box in zip(features.float(), boxes, strict=True):
        h, w = _covered_cells(box, grid)
        rows.append(item[:, :h, :w].mean(dim=(1, 2)))
    pooled = torch.stack(rows).cpu().numpy().astype(np.float32, copy=False)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.where(norms > 0, norms, 1.0)
