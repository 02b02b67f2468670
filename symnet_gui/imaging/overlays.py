"""Overlays drawn into arrays: the uncertainty heat map (canvas) and masks blended into
thumbnails (image list). Arrays are in the image pixel frame, ``H x W`` rows first."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["compose_thumbnail", "hex_rgb", "uncertainty_rgba"]


def hex_rgb(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> ``(r, g, b)``, each 0..255."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def uncertainty_rgba(probabilities: list[np.ndarray], threshold: float) -> np.ndarray:
    """``H x W x 4`` uint8 (premultiplied RGBA) heat map of where the model is unsure.

    ``probabilities``: one ``H x W`` float array in [0, 1] per class (same shape); an empty list
    gives a ``1 x 1`` map. Uncertainty of a pixel: ``1 - |p - t| / max(t, 1 - t)`` for the most
    probable class's probability ``p``; 1 at the threshold, 0 where the model is certain. Drawn in
    a warm orange whose opacity grows with uncertainty; certain pixels are transparent.
    """
    p = np.max(np.stack(probabilities), axis=0) if probabilities else np.zeros((1, 1), np.float32)
    u = 1.0 - np.abs(p - threshold) / max(threshold, 1.0 - threshold)
    alpha = np.clip((u - 0.35) / 0.65, 0.0, 1.0) ** 1.5 * 230.0
    out = np.empty((*p.shape, 4), np.uint8)
    a = alpha / 255.0
    out[..., 0] = (255 * a).astype(np.uint8)
    out[..., 1] = (120 * a).astype(np.uint8)
    out[..., 2] = (20 * a).astype(np.uint8)
    out[..., 3] = alpha.astype(np.uint8)
    return out


def compose_thumbnail(rgb: np.ndarray, mask: np.ndarray | None, colors: dict[int, str],
                      alpha: float = 0.5) -> np.ndarray:
    """Blend class colours into a small RGB image.

    ``rgb``: ``h x w x 3`` uint8 thumbnail; ``mask``: ``H x W`` integer label array of the full
    image (any size; resized nearest to ``h x w``), or None; ``colors``: class id -> ``"#rrggbb"``.
    Class pixels are blended with ``alpha``, the class regions' edges drawn in the full colour.
    Returns a new ``h x w x 3`` uint8 array.
    """
    out = rgb.astype(np.float32)
    if mask is not None and mask.any():
        small = cv2.resize(mask, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
        for cid, color in colors.items():
            sel = small == cid
            if sel.any():
                out[sel] = out[sel] * (1 - alpha) + np.array(hex_rgb(color), np.float32) * alpha
        edges = cv2.morphologyEx((small > 0).astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((2, 2), np.uint8)) > 0
        for cid, color in colors.items():
            sel = edges & (small == cid)
            out[sel] = np.array(hex_rgb(color), np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)
