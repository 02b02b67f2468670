"""Parity cases and their deterministic synthetic inputs (NumPy + OpenCV only, no torch).

Each case fixes an architecture (backbone depth, dataset head, input size, shots, batch) and a
seed. The seed drives both the synthetic episode built here and the model weights
(:func:`symnet_core.model.seeded_weights.seeded_state_dict`). The reference outputs recorded from the
authors' implementation for exactly these inputs live in ``tests/fixtures/parity/<name>.npz``;
the fixture also stores a sha256 of every generated array, so a change in this generator is
reported as such and not as a model mismatch.

Inputs mimic the official evaluation transform: an RGB image larger than the model input is
resized keeping its aspect ratio so that the longer side becomes ``S``, both sides are floored to
a multiple of 8, the result is placed in the top-left corner of an ``S x S`` canvas (image padding
0, label padding 255), and the image is normalised with the ImageNet mean/std on the 0..255
scale. Images are resized with bilinear (``cv2.INTER_LINEAR``), labels with nearest.

Scenes are structured rather than pure noise so that every stage of the network sees
non-trivial features: a textured, noisy background with a colour gradient and a few filled
ellipses / convex polygons of three object classes, each class with its own colour family and
texture. The support label is 1 on the target class, 0 elsewhere, 255 on a thin ring around
every object (like the VOC "void" border) and on the letterbox padding.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "CASES", "PIPELINE_CASES", "ParityCase", "PipelineCase", "case_by_name", "input_digests", "make_inputs",
    "make_raw_episode",
]

IMAGENET_MEAN_255 = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD_255 = (0.229 * 255, 0.224 * 255, 0.225 * 255)
IGNORE = 255.0


@dataclass(frozen=True)
class ParityCase:
    """One parity configuration.

    Attributes:
        name: file stem of the fixture.
        layers: backbone depth (50 or 101).
        dataset: ``"pascal"`` or ``"coco"`` (selects the word2vec table and the base head).
        num_base_outputs: base-learner outputs (16 PASCAL, 61 COCO).
        image_size: model input side S (473 or 641).
        shots: K.
        batch: B (episodes per forward).
        class_ids: raw dataset class id of each episode = row of the authors' word2vec table.
        seed: drives the inputs and the weights.
    """

    name: str
    layers: int
    dataset: str
    num_base_outputs: int
    image_size: int
    shots: int
    batch: int
    class_ids: tuple[int, ...]
    seed: int

    @property
    def feature_size(self) -> int:
        return (self.image_size - 1) // 8 + 1


CASES: tuple[ParityCase, ...] = (
    ParityCase("r50_pascal_473_1shot_b2", 50, "pascal", 16, 473, 1, 2, (2, 5), seed=20240701),
    ParityCase("r50_coco_641_5shot", 50, "coco", 61, 641, 5, 1, (9,), seed=20240702),
    ParityCase("r101_pascal_473_5shot", 101, "pascal", 16, 473, 5, 1, (4,), seed=20240703),
    ParityCase("r101_coco_641_1shot", 101, "coco", 61, 641, 1, 1, (41,), seed=20240704),
)


def case_by_name(name: str) -> ParityCase:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


# ------------------------------------------------------------------------------------------
# Scene synthesis (raw uint8 RGB image + integer label with object classes)
# ------------------------------------------------------------------------------------------

# (base RGB colour, texture kind) per object class; class 1 is the episode's target class.
_CLASS_STYLE = {
    1: ((200, 60, 50), "stripes"),
    2: ((50, 90, 210), "checker"),
    3: ((70, 180, 80), "dots"),
}


def _texture(kind: str, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A zero-mean texture in [-1, 1] over the pixel grid."""
    period = rng.uniform(6.0, 14.0)
    angle = rng.uniform(0.0, np.pi)
    if kind == "stripes":
        u = xx * np.cos(angle) + yy * np.sin(angle)
        return np.sin(2 * np.pi * u / period)
    if kind == "checker":
        u = xx * np.cos(angle) + yy * np.sin(angle)
        v = -xx * np.sin(angle) + yy * np.cos(angle)
        return np.sign(np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / period))
    # dots
    return np.cos(2 * np.pi * xx / period) * np.cos(2 * np.pi * yy / period)


def _shape_mask(h: int, w: int, rng: np.random.Generator, min_side: float) -> np.ndarray:
    """A filled ellipse or convex polygon somewhere inside an h x w image."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy = rng.uniform(0.2, 0.8) * h
    cx = rng.uniform(0.2, 0.8) * w
    if rng.random() < 0.5:
        a = rng.uniform(0.12, 0.3) * min_side
        b = rng.uniform(0.12, 0.3) * min_side
        t = rng.uniform(0.0, np.pi)
        u = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
        v = -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    n = int(rng.integers(3, 7))
    angles = np.sort(rng.uniform(0.0, 2 * np.pi, n))
    radii = rng.uniform(0.15, 0.32, n) * min_side
    px = cx + radii * np.cos(angles)
    py = cy + radii * np.sin(angles)
    inside = np.ones((h, w), dtype=bool)
    for i in range(n):  # convex: inside every edge's half-plane (vertices are counter-clockwise)
        x0, y0, x1, y1 = px[i], py[i], px[(i + 1) % n], py[(i + 1) % n]
        inside &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0
    return inside


def _ring(mask: np.ndarray, r: int = 2) -> np.ndarray:
    """Pixels within r (chessboard distance) of the mask boundary, inside or outside."""
    pad = np.pad(mask, r, mode="edge")
    h, w = mask.shape
    dil = np.zeros_like(mask)
    ero = np.ones_like(mask)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            win = pad[dy : dy + h, dx : dx + w]
            dil |= win
            ero &= win
    return dil & ~ero


def _scene(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Raw RGB uint8 image [h, w, 3] and label [h, w] (0 bg, 1..3 object classes, 255 void)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    corners = rng.uniform(40, 200, size=(4, 3))
    fy = (yy / (h - 1))[..., None]
    fx = (xx / (w - 1))[..., None]
    img = (
        corners[0] * (1 - fy) * (1 - fx)
        + corners[1] * (1 - fy) * fx
        + corners[2] * fy * (1 - fx)
        + corners[3] * fy * fx
    )
    for _ in range(3):
        period = rng.uniform(20.0, 90.0)
        angle = rng.uniform(0.0, np.pi)
        amp = rng.uniform(5.0, 20.0, size=3)
        img = img + amp * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)[..., None]

    label = np.zeros((h, w), dtype=np.uint8)
    void = np.zeros((h, w), dtype=bool)
    min_side = float(min(h, w))
    classes = [1, 1, int(rng.integers(2, 4)), int(rng.integers(2, 4))]
    classes = classes[: int(rng.integers(3, 5))]
    for cls in classes:
        mask = _shape_mask(h, w, rng, min_side)
        colour, kind = _CLASS_STYLE[cls]
        colour = np.asarray(colour, dtype=np.float64) + rng.uniform(-25, 25, size=3)
        tex = _texture(kind, yy, xx, rng)[..., None]
        shade = 0.85 + 0.3 * fy  # mild vertical shading
        obj = colour * shade + 35.0 * tex
        img = np.where(mask[..., None], obj, img)
        label[mask] = cls  # later objects occlude earlier ones
        void |= _ring(mask)
    img = img + rng.normal(0.0, 8.0, size=img.shape)
    label[void] = 255
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), label


# ------------------------------------------------------------------------------------------
# Official-style evaluation transform
# ------------------------------------------------------------------------------------------


def _letterbox_hw(h: int, w: int, size: int) -> tuple[int, int]:
    if max(h, w) <= size:
        return h, w
    if h >= w:
        new_h, new_w = size, int(w * (size / h))
    else:
        new_h, new_w = int(h * (size / w)), size
    return new_h // 8 * 8, new_w // 8 * 8


def _transform(image: np.ndarray, label: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB [h,w,3] + label [h,w] -> normalised float32 [3,S,S] + float32 label [S,S]."""
    h, w = label.shape
    new_h, new_w = _letterbox_hw(h, w, size)
    img = cv2.resize(image.astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    lab = cv2.resize(label.astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_NEAREST)
    canvas = np.zeros((size, size, 3), dtype=np.float32)
    canvas[:new_h, :new_w] = img
    lab_canvas = np.full((size, size), IGNORE, dtype=np.float32)
    lab_canvas[:new_h, :new_w] = lab
    mean = np.asarray(IMAGENET_MEAN_255, dtype=np.float32)
    std = np.asarray(IMAGENET_STD_255, dtype=np.float32)
    out = (canvas - mean) / std
    return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32), lab_canvas


def _raw_size(size: int, rng: np.random.Generator) -> tuple[int, int]:
    """(h, w) of a raw image larger than the model input, landscape or portrait, 4:3 or 3:2."""
    longer = int(size * rng.uniform(1.1, 1.5))
    shorter = int(longer * (0.75 if rng.random() < 0.6 else 2.0 / 3.0))
    return (shorter, longer) if rng.random() < 0.65 else (longer, shorter)


def _binary_support_label(label: np.ndarray) -> np.ndarray:
    """Target class (1) -> 1, void/padding (255) stays 255, everything else -> 0."""
    out = np.where(label == 1, 1.0, 0.0).astype(np.float32)
    out[label == IGNORE] = IGNORE
    return out


def make_inputs(case: ParityCase) -> dict[str, np.ndarray]:
    """The episode batch of ``case``.

    Returns:
        ``query`` float32 [B,3,S,S], ``supports`` float32 [B,K,3,S,S] and ``support_masks``
        float32 [B,K,S,S] with values {0, 1, 255}.
    """
    rng = np.random.default_rng(case.seed)
    s, b, k = case.image_size, case.batch, case.shots
    query = np.empty((b, 3, s, s), dtype=np.float32)
    supports = np.empty((b, k, 3, s, s), dtype=np.float32)
    masks = np.empty((b, k, s, s), dtype=np.float32)
    for i in range(b):
        img, lab = _scene(*_raw_size(s, rng), rng)
        query[i], _ = _transform(img, lab, s)
        for j in range(k):
            img, lab = _scene(*_raw_size(s, rng), rng)
            supports[i, j], lab_t = _transform(img, lab, s)
            masks[i, j] = _binary_support_label(lab_t)
    return {"query": query, "supports": supports, "support_masks": masks}


def input_digests(inputs: dict[str, np.ndarray]) -> dict[str, str]:
    """sha256 (hex) of each array's dtype, shape and bytes."""
    out = {}
    for name, arr in inputs.items():
        h = hashlib.sha256(f"{arr.dtype.str}|{arr.shape}|".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
        out[name] = h.hexdigest()
    return out


# ------------------------------------------------------------------------------------------
# Pipeline cases: raw images of given sizes, transformed by the code under test
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineCase:
    """A 1-shot episode given as raw images, for parity of the whole evaluation pipeline.

    Unlike :class:`ParityCase` (inputs already on the model canvas), the reference was recorded by
    feeding these raw images through the authors' own evaluation transform and model, once with
    their configured ``Resize`` (``resized_val: True``) and once with their ``test_Resize``; the
    code under test must letterbox them itself.

    Attributes:
        name: file stem of the fixture. query_hw, support_hw: raw (height, width).
        class_id: row of the authors' PASCAL word2vec table. seed: drives images and weights.
    """

    name: str
    query_hw: tuple[int, int]
    support_hw: tuple[int, int]
    class_id: int
    seed: int
    layers: int = 50
    num_base_outputs: int = 16
    image_size: int = 473


PIPELINE_CASES: tuple[PipelineCase, ...] = (
    # smaller than the model input: enlarged by the configured Resize (longer side 473 -> 472)
    PipelineCase("pipeline_r50_473_small_q400x300_s360x280", (300, 400), (280, 360), 15, seed=20261201),
    # longer side exactly 473: 472 after the configured Resize, 473 (kept) after test_Resize
    PipelineCase("pipeline_r50_473_edge_q473x300_s473x473", (300, 473), (473, 473), 8, seed=20261202),
)


def make_raw_episode(case: PipelineCase) -> dict[str, np.ndarray]:
    """Raw uint8 RGB query / support and the support's binary object mask (uint8 0/1, no void).

    The support mask has no ignore ring: it is what a user paints (object or not).
    """
    rng = np.random.default_rng(case.seed)
    query, _ = _scene(*case.query_hw, rng)
    support, label = _scene(*case.support_hw, rng)
    return {"query_raw": query, "support_raw": support, "support_mask_raw": (label == 1).astype(np.uint8)}
