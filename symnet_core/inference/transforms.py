"""Letterboxing between original images and the square model input (official val transform).

Model frame: an S×S canvas. The image is resized keeping its aspect ratio so that the longer side
becomes S, both sides are then floored to a multiple of 8 (so the content spans at most
(S−1)×(S−1) for S = 473), and it is placed at the top-left; the rest is padding (image value 0
before normalisation, label 255). Images whose longer side is already ≤ S are not resized (as
in the authors' code) unless ``upscale_small=True``. Coordinates: arrays are row-major (y, x).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from symnet_core.model.config import IMAGENET_MEAN_255, IMAGENET_STD_255

IGNORE_LABEL = 255
#: Above this many pixels the image is resized as uint8 rather than float32 (memory).
FLOAT_RESIZE_MAX_PIXELS = 16_000_000


@dataclass(frozen=True)
class Letterbox:
    """Where an original image sits on the model canvas.

    Attributes:
        size: canvas side S. orig_h, orig_w: original image size. new_h, new_w: size of the
            resized content at the canvas's top-left corner.
    """

    size: int
    orig_h: int
    orig_w: int
    new_h: int
    new_w: int

    @classmethod
    def fit(cls, h: int, w: int, size: int, upscale_small: bool = False) -> Letterbox:
        if h < 1 or w < 1:
            raise ValueError(f"image of size {w}x{h} has no pixels")
        if max(h, w) > size or (upscale_small and max(h, w) < size):
            if h >= w:
                new_h, new_w = size, int(w * (size / h))
            else:
                new_h, new_w = int(h * (size / w)), size
            new_h, new_w = max(8, (new_h // 8) * 8), max(8, (new_w // 8) * 8)
        else:
            new_h, new_w = h, w
        return cls(size=size, orig_h=h, orig_w=w, new_h=new_h, new_w=new_w)


def image_to_model(image: np.ndarray, box: Letterbox) -> np.ndarray:
    """HxWx3 uint8 RGB → [3,S,S] float32 normalised canvas (padding = raw 0 before normalising)."""
    if (box.new_h, box.new_w) == (box.orig_h, box.orig_w):
        content = image.astype(np.float32)
    elif image.shape[0] * image.shape[1] <= FLOAT_RESIZE_MAX_PIXELS:
        # The official transform resizes the float image (no rounding to uint8).
        content = cv2.resize(image.astype(np.float32), (box.new_w, box.new_h), interpolation=cv2.INTER_LINEAR)
    else:
        # Very large photos: resize the uint8 array to avoid a multi-GB float copy (rounding ≤ 0.5/255).
        content = cv2.resize(image, (box.new_w, box.new_h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    canvas = np.zeros((box.size, box.size, 3), np.float32)
    canvas[: box.new_h, : box.new_w] = content
    canvas -= np.asarray(IMAGENET_MEAN_255, np.float32)
    canvas /= np.asarray(IMAGENET_STD_255, np.float32)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1))


def mask_to_model(mask: np.ndarray, box: Letterbox) -> np.ndarray:
    """HxW bool mask → S×S float32 label (1 object, 0 background, 255 padding), nearest resize."""
    content = mask.astype(np.float32)
    if (box.new_h, box.new_w) != (box.orig_h, box.orig_w):
        content = cv2.resize(content, (box.new_w, box.new_h), interpolation=cv2.INTER_NEAREST)
    label = np.full((box.size, box.size), IGNORE_LABEL, np.float32)
    label[: box.new_h, : box.new_w] = content
    return label


def model_to_image(canvas_map: np.ndarray, box: Letterbox) -> np.ndarray:
    """S×S float map on the model canvas → orig_h×orig_w float32 map (crop, bilinear resize)."""
    crop = np.ascontiguousarray(canvas_map[: box.new_h, : box.new_w], dtype=np.float32)
    if (box.new_h, box.new_w) == (box.orig_h, box.orig_w):
        return crop
    return cv2.resize(crop, (box.orig_w, box.orig_h), interpolation=cv2.INTER_LINEAR)
