"""Letterboxing between original images and the square model input (the authors' val transforms).

Model frame: an S×S canvas with the (possibly resized) image at its top-left; the rest is padding
(image value 0 before normalisation, label 255). Pixels are normalised with the ImageNet mean/std
on the 0..255 scale. Two resize modes, both from the authors' code:

* ``"fit"`` (:data:`FIT`, the default) — their configured evaluation pipeline (``Resize``, used
  because both their configs set ``resized_val: True``): every image, small or large, is resized
  keeping its aspect ratio so that its longer side becomes S, then both sides are floored to a
  multiple of 8. Small images are enlarged, and an image whose longer side is exactly S is
  still rounded down (473 → 472): on a 473 canvas the content never spans more than 472×472.
* ``"shrink-only"`` (:data:`SHRINK_ONLY`) — their ``test_Resize`` (``resized_val: False``):
  images larger than S are resized as above, images whose longer side is ≤ S keep their size
  (473 stays 473).

Which mode a checkpoint needs is decided by :func:`resize_mode_for` (see docs/inference.md).
Coordinates: arrays are row-major (y, x).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from symnet_core.model.config import IMAGENET_MEAN_255, IMAGENET_STD_255

IGNORE_LABEL = 255
#: Above this many pixels the image is resized as uint8 rather than float32 (memory).
FLOAT_RESIZE_MAX_PIXELS = 16_000_000
#: The authors' configured evaluation resize (``resized_val: True``): longer side → S, always.
FIT = "fit"
#: The authors' ``test_Resize``: only images larger than S are resized.
SHRINK_ONLY = "shrink-only"
RESIZE_MODES = (FIT, SHRINK_ONLY)


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
    def fit(cls, h: int, w: int, size: int, mode: str = FIT) -> Letterbox:
        """Where an h×w image goes on the S×S canvas in resize ``mode`` (:data:`RESIZE_MODES`).

        Sides are floored to a multiple of 8 whenever the image is resized, never below 8.
        """
        if mode not in RESIZE_MODES:
            raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
        if h < 1 or w < 1:
            raise ValueError(f"image of size {w}x{h} has no pixels")
        if mode == FIT or max(h, w) > size:
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


def resize_mode_for(checkpoint_info: object | None) -> str:
    """The resize mode that matches how a checkpoint's model was evaluated and selected.

    * the authors' checkpoints (``source == "official"``) and models without checkpoint
      information: :data:`FIT`, their configured pipeline (``resized_val: True`` in every config
      they ship, for validation during training and for testing);
    * our checkpoints: the mode recorded as ``metadata["resize_mode"]`` by ``symnet-train``;
      checkpoints written before that record existed were validated with :data:`SHRINK_ONLY`.

    ``checkpoint_info`` is a :class:`symnet_core.model.checkpoints.CheckpointInfo` (duck-typed).
    """
    if checkpoint_info is None or getattr(checkpoint_info, "source", "official") == "official":
        return FIT
    recorded = (getattr(checkpoint_info, "metadata", None) or {}).get("resize_mode")
    return recorded if recorded in RESIZE_MODES else SHRINK_ONLY
