"""A synthetic few-shot segmentation dataset, fully determined by one integer seed.

Why: no real data or weights can be downloaded where the demo model is trained, yet the demo must
show Sym-Net propagating masks to *classes it never saw in training*. This module draws scenes
(RGB ``uint8`` image + ``uint8`` class-index label) whose object classes differ in shape,
texture and colour, on cluttered textured backgrounds, with distractor objects of other classes.

Classes
    A class (:class:`ClassSpec`) is a combination of a shape family (:data:`SHAPES`), a texture
    (:data:`TEXTURES`, with a class-specific orientation / period / dot size) and two colours (the
    texture blends between them). Any two classes differ in at least two of (shape family, texture
    kind, colour hue bin), so no class is a mere recolouring of another. Class ids are ``1..n``;
    label value 0 is background. The last ``held_out`` classes are *novel*: they never appear in
    training scenes; every shape family and texture kind of a novel class also occurs among the
    training classes (new combinations of known parts). Names are descriptive,
    e.g. ``"blue dotted ring"``.

Scenes
    Background: a smooth low-saturation colour field, low-contrast textured regions and
    desaturated clutter (plus some saturated untextured clutter), pixel noise and a light blur.
    Objects: 1–3 instances of the scene's *main* class and 0–3 distractors of other classes, with
    random scale, aspect, rotation and position (objects may touch or cross the border), drawn in
    random order so they occlude each other. The main class always keeps at least
    ``min_main_fraction`` of the image. Texture colour and parameters jitter per instance.

Determinism
    Every array depends only on the constructor arguments and the call's arguments (seed,
    split, index, main class, size): each call seeds its own ``numpy.random.default_rng`` from a
    ``SeedSequence`` of those integers. No global RNG state is read or changed. Rendering uses
    numpy and OpenCV only; the same NumPy/OpenCV versions give bit-identical images.

Entry points: :class:`SyntheticFewShot` (``scene``, ``class_scene``, ``episode``),
:class:`HashTextEmbedder` (the class-name vectors models trained on this data use) and
:func:`make_demo_folder` (an image folder of one novel class for the annotation demo).
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import logging
import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

__all__ = [
    "ATTRIBUTES",
    "DEMO_DATASET",
    "GENERATOR_VERSION",
    "SHAPES",
    "TEXTURES",
    "ClassSpec",
    "HashTextEmbedder",
    "SyntheticEpisode",
    "SyntheticFewShot",
    "dataset_from_metadata",
    "demo_dataset",
    "demo_folder_is_current",
    "make_demo_folder",
]

#: Bumped whenever a change alters any generated pixel (recorded in checkpoints and demo folders).
GENERATOR_VERSION = 2

SHAPES: tuple[str, ...] = ("ellipse", "star", "ring", "rounded_rect", "triangle", "cross", "blob", "crescent")
TEXTURES: tuple[str, ...] = ("stripes", "dots", "checker", "noise", "solid", "grid", "waves", "rings", "speckle")
_TEXTURE_ADJ = {"stripes": "striped", "dots": "dotted", "checker": "checkered", "noise": "mottled", "solid": "plain",
                "grid": "gridded", "waves": "wavy", "rings": "ringed", "speckle": "speckled"}  # fmt: skip
HUE_NAMES: tuple[str, ...] = (
    "red", "orange", "yellow", "lime", "green", "teal", "cyan", "azure", "blue", "violet", "magenta", "pink",
)  # fmt: skip
_SHAPE_NAMES = {"rounded_rect": "tile"}
#: Attributes with per-pixel targets (:meth:`SyntheticFewShot.attribute_tables`) and their value counts.
ATTRIBUTES: dict[str, int] = {"shape": len(SHAPES), "texture": len(TEXTURES), "hue": len(HUE_NAMES)}

_SPLIT_CODES = {"train": 1, "val": 2, "test": 3, "demo": 4}
_SCENE_STREAM = 11
_CLASS_STREAM = 7
#: Constructor arguments of the dataset the shipped demo model was trained on.
DEMO_DATASET: dict[str, int] = {"seed": 7, "n_classes": 86, "held_out": 6, "min_train_difference": 1}


def _rng(*entropy: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(e) & 0xFFFFFFFF for e in entropy]))


def _hsv_to_rgb255(h: float, s: float, v: float) -> tuple[float, float, float]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return (255.0 * r, 255.0 * g, 255.0 * b)


@dataclass(frozen=True)
class ClassSpec:
    """Appearance of one synthetic class.

    Attributes:
        id: class id (label value), 1-based. name: descriptive unique name.
        shape: one of :data:`SHAPES`. shape_param: family-specific number (star points, ring
            inner radius, corner radius, arm width, crescent offset...). aspect: mean width/height.
        texture: one of :data:`TEXTURES`. tex_angle: orientation in degrees. tex_period: period in
            pixels. tex_param: dot radius (fraction of the period) or noise contrast.
        color1, color2: RGB (0..255) the texture blends between. hue_bin: index into HUE_NAMES of
            color1's hue. palette: hue bins of the class (color1's, plus color2's when it is a
            second hue rather than a darker tone).
    """

    id: int
    name: str
    shape: str
    shape_param: float
    aspect: float
    texture: str
    tex_angle: float
    tex_period: float
    tex_param: float
    color1: tuple[float, float, float]
    color2: tuple[float, float, float]
    hue_bin: int
    palette: tuple[int, ...] = ()


@dataclass(frozen=True)
class SyntheticEpisode:
    """One few-shot episode of a synthetic class.

    Attributes:
        class_id: the episode's class. query: HxWx3 uint8. query_mask: HxW uint8 (1 = class, 0 = not).
        supports / support_masks: K images and their masks, same conventions (sizes may differ).
    """

    class_id: int
    query: np.ndarray
    query_mask: np.ndarray
    supports: tuple[np.ndarray, ...]
    support_masks: tuple[np.ndarray, ...]


# ----------------------------------------------------------------------------------------------
# Class generation
# ----------------------------------------------------------------------------------------------


def _shape_param(shape: str, rng: np.random.Generator) -> float:
    lo, hi = {
        "ellipse": (0.0, 0.0),
        "star": (5, 7.999),
        "ring": (0.45, 0.62),
        "rounded_rect": (0.12, 0.35),
        "triangle": (0.0, 0.0),
        "cross": (0.28, 0.42),
        "blob": (0.10, 0.18),
        "crescent": (0.38, 0.55),
    }[shape]
    v = float(rng.uniform(lo, hi)) if hi > lo else 0.0
    return float(math.floor(v)) if shape == "star" else v


ClassKey = tuple[str, str, tuple[int, ...]]
#: tex_param ranges: dot radius / grid line half-width (fractions of the period), speckle density,
#: otherwise a contrast factor.
_TEX_PARAM = {"dots": (0.22, 0.36), "grid": (0.08, 0.14), "speckle": (0.25, 0.45)}


def _make_class(cid: int, key: ClassKey, rng: np.random.Generator) -> ClassSpec:
    shape, texture, palette = key
    hue_bin = palette[0]
    hue = (hue_bin + rng.uniform(-0.3, 0.3)) / len(HUE_NAMES)
    s1, v1 = rng.uniform(0.55, 0.95), rng.uniform(0.6, 0.95)
    if len(palette) == 1:  # one hue: the second colour is a darker tone of it
        s2, v2 = rng.uniform(0.35, 0.95), max(0.12, v1 - rng.uniform(0.35, 0.55))
        hue2 = hue + rng.uniform(-0.02, 0.02)
    else:  # a second, distant hue
        hue2 = (palette[1] + rng.uniform(-0.3, 0.3)) / len(HUE_NAMES)
        s2, v2 = rng.uniform(0.5, 0.95), rng.uniform(0.35, 0.9)
    period = {"stripes": (6, 14), "dots": (8, 15), "checker": (6, 13), "noise": (8, 18), "solid": (10, 10),
              "grid": (8, 15), "waves": (7, 13), "rings": (6, 11), "speckle": (10, 10)}[texture]  # fmt: skip
    colour = HUE_NAMES[hue_bin] if len(palette) == 1 else f"{HUE_NAMES[hue_bin]}-{HUE_NAMES[palette[1]]}"
    name = f"{colour} {_TEXTURE_ADJ[texture]} {_SHAPE_NAMES.get(shape, shape)}"
    return ClassSpec(
        id=cid,
        name=name,
        shape=shape,
        shape_param=_shape_param(shape, rng),
        aspect=float(rng.uniform(0.65, 1.0)),
        texture=texture,
        tex_angle=float(rng.uniform(0, 180)),
        tex_period=float(rng.uniform(*period)),
        tex_param=float(rng.uniform(*_TEX_PARAM.get(texture, (0.6, 1.0)))),
        color1=_hsv_to_rgb255(hue, s1, v1),
        color2=_hsv_to_rgb255(hue2, s2, v2),
        hue_bin=int(hue_bin),
        palette=tuple(int(b) for b in palette),
    )


def _palettes_close(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Two palettes look alike when any of their hue bins are equal or neighbours (circularly)."""
    n = len(HUE_NAMES)
    return any(min((x - y) % n, (y - x) % n) <= 1 for x in a for y in b)


def _differences(a: ClassKey, b: ClassKey) -> int:
    """How many of shape, texture and palette (far apart) differ between two class keys."""
    return (a[0] != b[0]) + (a[1] != b[1]) + (not _palettes_close(a[2], b[2]))


def _draw_key(rng: np.random.Generator, shape: str | None = None, texture: str | None = None) -> ClassKey:
    shape = shape or str(rng.choice(SHAPES))
    texture = texture or str(rng.choice(TEXTURES))
    n_hues = len(HUE_NAMES)
    b1 = int(rng.integers(n_hues))
    two = texture != "solid" and rng.random() >= 0.5
    palette = (b1, (b1 + int(rng.integers(3, 10))) % n_hues) if two else (b1,)
    return (shape, texture, palette)


def _train_first_keys(rng: np.random.Generator, n_classes: int, held_out: int) -> list[ClassKey]:
    """``min_train_difference=2``: every pair of classes differs in ≥ 2 attributes (table v2)."""
    n_train = n_classes - held_out
    n_hues = len(HUE_NAMES)
    keys: list[ClassKey] = []
    shapes = list(rng.permutation(SHAPES))
    textures = list(rng.permutation(TEXTURES))
    for _attempt in range(200_000):
        if len(keys) == n_classes:
            break
        i = len(keys)
        if i < n_train and i < max(len(SHAPES), len(TEXTURES)):  # cover every family first
            shape, texture = str(shapes[i % len(shapes)]), str(textures[i % len(textures)])
        else:
            shape, texture = str(rng.choice(SHAPES)), str(rng.choice(TEXTURES))
        b1 = int(rng.integers(n_hues))
        two = not (texture == "solid" or rng.random() < 0.5)
        palette = (b1, (b1 + int(rng.integers(3, 10))) % n_hues) if two else (b1,)
        if i >= n_train:
            train_keys = keys[:n_train]
            if shape not in {k[0] for k in train_keys} or texture not in {k[1] for k in train_keys}:
                continue
        cand = (shape, texture, palette)
        if all(_differences(cand, k) >= 2 for k in keys):
            keys.append(cand)
    else:  # pragma: no cover - only for absurd n_classes
        raise RuntimeError(f"could not draw {n_classes} distinct classes ({_attempt} attempts)")
    return keys


def _novel_first_keys(rng: np.random.Generator, n_classes: int, held_out: int) -> list[ClassKey]:
    """``min_train_difference=1``: novel keys first (pairwise ≥ 2), then training keys that differ
    from every novel key in ≥ 2 attributes and from each other in ≥ 1."""
    n_train = n_classes - held_out
    n_cover = max(len(SHAPES), len(TEXTURES))
    for _restart in range(100):  # greedy drawing can paint itself into a corner: start over
        shapes = [str(x) for x in rng.permutation(SHAPES)]
        textures = [str(x) for x in rng.permutation(TEXTURES)]
        # the first training classes cycle through these, so novel classes only use them
        novel_shapes = shapes[: max(1, min(n_train, len(shapes)))]
        novel_textures = textures[: max(1, min(n_train, len(textures)))]
        novel: list[ClassKey] = []
        train: list[ClassKey] = []
        for _attempt in range(20_000):
            if len(novel) < held_out:
                cand = _draw_key(rng, str(rng.choice(novel_shapes)), str(rng.choice(novel_textures)))
                if all(_differences(cand, k) >= 2 for k in novel):
                    novel.append(cand)
                continue
            if len(train) == n_train:
                break
            i = len(train)
            cycle = i < n_cover
            cand = _draw_key(rng, shapes[i % len(shapes)], textures[i % len(textures)]) if cycle else _draw_key(rng)
            if all(_differences(cand, k) >= 2 for k in novel) and all(_differences(cand, k) >= 1 for k in train):
                train.append(cand)
        if len(train) == n_train and len(novel) == held_out:
            return [*train, *novel]
    raise RuntimeError(f"could not draw {n_classes} classes with min_train_difference 1")


def generate_classes(
    seed: int, n_classes: int, held_out: int, min_train_difference: int = 2
) -> tuple[ClassSpec, ...]:
    """The class table of a dataset: ``n_classes`` specs, ids 1..n, the last ``held_out`` novel.

    A class key is (shape, texture, palette); the palette is one hue bin (second colour = darker
    tone) or two distant hue bins (3–9 bins apart; the plain texture shows almost only the first).
    Two keys *differ* in an attribute when shapes differ, textures differ, or palettes are far
    apart (no hue bin of one equals or neighbours a hue bin of the other).

    * ``min_train_difference=2`` (default): any two classes differ in at least two attributes
      (every class clearly distinct; at most about 30 classes). Training classes are drawn first
      and cover every shape family and texture kind (as far as their number allows); novel classes
      are drawn among keys whose shape and texture both occur in training.
    * ``min_train_difference=1``: novel classes are drawn first and differ from each other and
      from every training class in at least two attributes (never a near copy of a training
      class); training classes differ from each other in at least one (e.g. only in colour), which
      allows many more of them. The first training classes cycle through the shape families and
      texture kinds the novel classes use.
    """
    if not 1 <= held_out < n_classes:
        raise ValueError(f"need 1 <= held_out < n_classes, got held_out={held_out}, n_classes={n_classes}")
    if n_classes > 250:
        raise ValueError("at most 250 classes")
    if min_train_difference == 2:
        keys = _train_first_keys(rng := _rng(seed, _CLASS_STREAM, n_classes, held_out), n_classes, held_out)
    elif min_train_difference == 1:
        keys = _novel_first_keys(rng := _rng(seed, _CLASS_STREAM, n_classes, held_out, 1), n_classes, held_out)
    else:
        raise ValueError(f"min_train_difference must be 1 or 2, got {min_train_difference}")
    return tuple(_make_class(i + 1, k, rng) for i, k in enumerate(keys))


# ----------------------------------------------------------------------------------------------
# Geometry and textures
# ----------------------------------------------------------------------------------------------


def _circle(n: int = 48, r: float = 1.0, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _shape_polygons(spec_shape: str, param: float, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """Unit-size polygons (x, y in about [-1, 1]) with fill values: 1 adds, 0 cuts a hole."""
    if spec_shape == "ellipse":
        return [(_circle(), 1)]
    if spec_shape == "star":
        n = int(param)
        t = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
        r = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.42, 0.55))
        return [(np.stack([r * np.cos(t), r * np.sin(t)], axis=1), 1)]
    if spec_shape == "ring":
        return [(_circle(), 1), (_circle(r=param * rng.uniform(0.92, 1.08)), 0)]
    if spec_shape == "rounded_rect":
        hx, hy, rc = 1.0, 0.75, param
        pts = []
        for cx, cy, a0 in ((hx - rc, hy - rc, 0), (-hx + rc, hy - rc, 90), (-hx + rc, -hy + rc, 180),
                           (hx - rc, -hy + rc, 270)):  # fmt: skip
            a = np.deg2rad(np.linspace(a0, a0 + 90, 8))
            pts.append(np.stack([cx + rc * np.cos(a), cy + rc * np.sin(a)], axis=1))
        return [(np.concatenate(pts), 1)]
    if spec_shape == "triangle":
        a = np.deg2rad(np.array([90.0, 210.0, 330.0]) + rng.uniform(-10, 10, 3))
        return [(np.stack([np.cos(a), np.sin(a)], axis=1), 1)]
    if spec_shape == "cross":
        w = param
        pts = [(w, w), (w, 1), (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w), (-w, -1), (w, -1), (w, -w), (1, -w),
               (1, w)]  # fmt: skip
        return [(np.asarray(pts, dtype=np.float64), 1)]
    if spec_shape == "blob":
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        r = np.ones_like(t)
        for k in (2, 3, 4):
            r += rng.uniform(0.4, 1.0) * param * np.cos(k * t + rng.uniform(0, 2 * np.pi))
        r /= r.max()
        return [(np.stack([r * np.cos(t), r * np.sin(t)], axis=1), 1)]
    if spec_shape == "crescent":
        off = param * rng.uniform(0.9, 1.1)
        return [(_circle(), 1), (_circle(r=0.85, cx=off, cy=-0.1), 0)]
    raise ValueError(f"unknown shape {spec_shape!r}")


def _rasterise(
    polys: list[tuple[np.ndarray, int]], h: int, w: int, cx: float, cy: float, rx: float, ry: float, angle: float
) -> np.ndarray:
    """Scale (rx, ry), rotate (degrees) and translate unit polygons; fill an HxW uint8 mask."""
    mask = np.zeros((h, w), np.uint8)
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    for pts, value in polys:
        x, y = pts[:, 0] * rx, pts[:, 1] * ry
        px = cx + ca * x - sa * y
        py = cy + sa * x + ca * y
        fixed = np.round(np.stack([px, py], axis=1) * 16).astype(np.int32)  # 4 bits of sub-pixel precision
        cv2.fillPoly(mask, [fixed], int(value), lineType=cv2.LINE_8, shift=4)
    return mask


def _smooth_noise(rng: np.random.Generator, h: int, w: int, period: float) -> np.ndarray:
    """Smooth noise in [0, 1] (bicubic upsampling of a random grid with cells of ``period`` px)."""
    gh, gw = max(2, int(h / period) + 2), max(2, int(w / period) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * period), int(gh * period)), interpolation=cv2.INTER_CUBIC)
    oy, ox = int(rng.integers(0, max(1, big.shape[0] - h))), int(rng.integers(0, max(1, big.shape[1] - w)))
    out = big[oy : oy + h, ox : ox + w]
    if out.shape != (h, w):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def _texture(
    kind: str, angle: float, period: float, param: float, h: int, w: int, x0: int, y0: int, rng: np.random.Generator
) -> np.ndarray:
    """Texture value t in [0, 1], float32 [h, w], for the box whose top-left is (x0, y0)."""
    yy, xx = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
    a = math.radians(angle)
    u = xx * math.cos(a) + yy * math.sin(a)
    v = -xx * math.sin(a) + yy * math.cos(a)
    phase = rng.uniform(0, period)
    if kind == "stripes":
        return 0.5 + 0.5 * np.tanh(3.0 * np.sin(2 * np.pi * (u + phase) / period))
    if kind == "checker":
        return ((np.floor((u + phase) / period) + np.floor((v + phase) / period)) % 2).astype(np.float32)
    if kind == "dots":
        du = np.mod(u + phase, period) - period / 2
        dv = np.mod(v + phase, period) - period / 2
        r = param * period
        return np.clip((r - np.sqrt(du * du + dv * dv)) + 0.5, 0, 1).astype(np.float32)
    if kind == "noise":
        n = _smooth_noise(rng, h, w, period)
        return np.clip((n - 0.5) * 2.5 * param + 0.5, 0, 1)
    if kind == "solid":
        g = (u - u.min()) / max(float(u.max() - u.min()), 1.0)
        return (0.25 * g).astype(np.float32)
    if kind == "grid":
        half = param * period
        du = np.abs(np.mod(u + phase, period) - period / 2)
        dv = np.abs(np.mod(v + phase, period) - period / 2)
        return np.clip(half + 0.5 - np.minimum(du, dv), 0, 1).astype(np.float32)
    if kind == "waves":
        bent = u + 0.3 * period * np.sin(2 * np.pi * v / (2.5 * period))
        return 0.5 + 0.5 * np.tanh(3.0 * np.sin(2 * np.pi * (bent + phase) / period))
    if kind == "rings":
        r = np.sqrt((xx - (x0 + w / 2)) ** 2 + (yy - (y0 + h / 2)) ** 2)
        return 0.5 + 0.5 * np.tanh(3.0 * np.sin(2 * np.pi * (r + phase) / period))
    if kind == "speckle":
        spots = (rng.random((h, w)) < param).astype(np.float32)
        return cv2.GaussianBlur(spots, (3, 3), 0.7)
    raise ValueError(f"unknown texture {kind!r}")


def _jitter_colour(rgb: tuple[float, float, float], rng: np.random.Generator, amount: float) -> np.ndarray:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in rgb))
    h += rng.uniform(-0.02, 0.02) * amount
    s *= 1 + rng.uniform(-0.12, 0.12) * amount
    v *= 1 + rng.uniform(-0.12, 0.12) * amount
    return np.asarray(_hsv_to_rgb255(h, s, v), np.float32)


# ----------------------------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------------------------


class SyntheticFewShot:
    """A seeded family of synthetic segmentation scenes (see the module docstring).

    Args:
        seed: decides the class table and every scene.
        n_classes: number of classes (ids 1..n). held_out: the last ``held_out`` classes are novel.
        size_range: (min, max) side in pixels of scenes drawn without an explicit ``size``.
        min_main_fraction: the main class covers at least this fraction of the image.
        object_scale: multiplies every object's size (relative to the image's shorter side).
        max_distractors: at most this many objects of other classes per scene (0–3 drawn, capped).
        clutter: multiplies the number of background clutter shapes (0 = none).
        min_train_difference: see :func:`generate_classes` (novel classes always differ from
            every other class in at least 2 attributes).

    Attributes:
        classes: tuple of :class:`ClassSpec`, index i = class id i + 1.
        train_classes, novel_classes: class ids.
    """

    def __init__(
        self,
        seed: int = 0,
        n_classes: int = 20,
        held_out: int = 5,
        *,
        size_range: tuple[int, int] = (176, 256),
        min_main_fraction: float = 0.012,
        object_scale: float = 1.0,
        max_distractors: int = 3,
        clutter: float = 1.0,
        min_train_difference: int = 2,
    ) -> None:
        if size_range[0] < 16 or size_range[1] < size_range[0]:
            raise ValueError(f"bad size_range {size_range}")
        self.seed = int(seed)
        self.n_classes = int(n_classes)
        self.held_out = int(held_out)
        self.size_range = (int(size_range[0]), int(size_range[1]))
        self.min_main_fraction = float(min_main_fraction)
        if not 0.1 <= object_scale <= 3.0:
            raise ValueError(f"object_scale must be in [0.1, 3], got {object_scale}")
        self.object_scale = float(object_scale)
        if max_distractors < 0 or clutter < 0:
            raise ValueError("max_distractors and clutter must be >= 0")
        self.max_distractors = int(max_distractors)
        self.clutter = float(clutter)
        self.min_train_difference = int(min_train_difference)
        self.classes = generate_classes(self.seed, self.n_classes, self.held_out, self.min_train_difference)
        self.train_classes: tuple[int, ...] = tuple(range(1, self.n_classes - self.held_out + 1))
        self.novel_classes: tuple[int, ...] = tuple(range(self.n_classes - self.held_out + 1, self.n_classes + 1))

    # ------------------------------------------------------------------------------------------
    @property
    def class_names(self) -> dict[int, str]:
        """``{class id: name}`` for every class."""
        return {c.id: c.name for c in self.classes}

    def spec(self, class_id: int) -> ClassSpec:
        if not 1 <= class_id <= self.n_classes:
            raise ValueError(f"class id must be in 1..{self.n_classes}, got {class_id}")
        return self.classes[class_id - 1]

    def describe(self) -> dict[str, object]:
        """Plain-data description (recorded in checkpoints)."""
        return {
            "generator_version": GENERATOR_VERSION,
            "seed": self.seed,
            "n_classes": self.n_classes,
            "held_out": self.held_out,
            "size_range": list(self.size_range),
            "min_main_fraction": self.min_main_fraction,
            "object_scale": self.object_scale,
            "max_distractors": self.max_distractors,
            "clutter": self.clutter,
            "min_train_difference": self.min_train_difference,
            "train_classes": list(self.train_classes),
            "novel_classes": list(self.novel_classes),
            "class_names": {str(k): v for k, v in self.class_names.items()},
        }

    def attribute_tables(self, classes: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Per-pixel attribute targets: label value → attribute index for each of :data:`ATTRIBUTES`.

        Each table is uint8 [256]: background (0) → 0, a class in ``classes`` (default: the
        training classes) → 1 + index of its shape family in :data:`SHAPES` / texture kind in
        :data:`TEXTURES` / hue bin of its first colour, everything else (other classes, 255) → 255
        (ignore). Used as auxiliary targets when a backbone is trained from scratch on this data.
        """
        keep = self.train_classes if classes is None else tuple(int(c) for c in classes)
        tables = {}
        for attr, values in (("shape", SHAPES), ("texture", TEXTURES), ("hue", HUE_NAMES)):
            lut = np.full(256, 255, np.uint8)
            lut[0] = 0
            for c in keep:
                spec = self.spec(c)
                v = {"shape": lambda s: SHAPES.index(s.shape), "texture": lambda s: TEXTURES.index(s.texture),
                     "hue": lambda s: s.hue_bin}[attr](spec)  # fmt: skip
                lut[c] = 1 + v
            tables[attr] = lut
            assert len(values) + 1 < 255
        return tables

    def split_pool(self, split: str) -> tuple[int, ...]:
        """Classes allowed in scenes of a split: training classes for ``train``, all otherwise."""
        if split not in _SPLIT_CODES:
            raise ValueError(f"split must be one of {sorted(_SPLIT_CODES)}, got {split!r}")
        return self.train_classes if split == "train" else tuple(range(1, self.n_classes + 1))

    # ------------------------------------------------------------------------------------------
    def scene(
        self,
        index: int,
        classes: Sequence[int] | None = None,
        size: tuple[int, int] | None = None,
        *,
        main: int | None = None,
        stream: str = "train",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw one scene.

        Args:
            index: scene number (any non-negative int).
            classes: class ids allowed in the scene (default: the stream's pool, see
                :meth:`split_pool`). The main class is drawn from them unless ``main`` is given.
            size: (h, w); default drawn from ``size_range``.
            main: class guaranteed to be present (1–3 instances).
            stream: ``"train" | "val" | "test" | "demo"`` — independent scene streams.

        Returns:
            (rgb HxWx3 uint8, label HxW uint8 with class ids, 0 = background).
        """
        pool = tuple(int(c) for c in (classes if classes is not None else self.split_pool(stream)))
        if not pool:
            raise ValueError("empty class pool")
        for c in pool:
            self.spec(c)
        if main is not None:
            self.spec(main)
        pool_code = zlib.crc32(np.asarray(sorted(pool), np.int32).tobytes())
        size_code = 0 if size is None else (int(size[0]) << 16) | int(size[1])
        rng = _rng(self.seed, _SCENE_STREAM, _SPLIT_CODES[stream], index, main or 0, pool_code, size_code)
        if size is None:
            lo, hi = self.size_range
            size = (int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1)))
        h, w = int(size[0]), int(size[1])
        if h < 16 or w < 16:
            raise ValueError(f"scene size must be at least 16x16, got {h}x{w}")
        if main is None:
            main = int(pool[int(rng.integers(len(pool)))])
        others = [c for c in pool if c != main]
        return self._render(rng, h, w, main, others)

    def class_scene(
        self, class_id: int, index: int, split: str = "train", size: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A scene of ``split`` whose main class is ``class_id`` (distractors from the split's pool)."""
        pool = self.split_pool(split)
        if split == "train" and class_id not in pool:
            raise ValueError(f"class {class_id} is novel: it never appears in training scenes")
        if class_id not in pool:
            pool = (*pool, class_id)
        return self.scene(index, pool, size, main=class_id, stream=split)

    def episode(
        self, class_id: int, index: int, shots: int = 1, split: str = "test", size: tuple[int, int] | None = None
    ) -> SyntheticEpisode:
        """Query and ``shots`` supports of ``class_id`` with binary masks (distinct scenes)."""
        rng = _rng(self.seed, 23, _SPLIT_CODES[split], class_id, index)
        numbers = rng.choice(1 << 30, size=shots + 1, replace=False)
        scenes = [self.class_scene(class_id, int(n), split, size) for n in numbers]
        masks = [(lab == class_id).astype(np.uint8) for _, lab in scenes]
        return SyntheticEpisode(
            class_id=class_id,
            query=scenes[0][0],
            query_mask=masks[0],
            supports=tuple(s[0] for s in scenes[1:]),
            support_masks=tuple(masks[1:]),
        )

    # ------------------------------------------------------------------------------------------
    def _background(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        gh, gw = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        base_hue = rng.random()
        cells = np.empty((gh, gw, 3), np.float32)
        for i in range(gh):
            for j in range(gw):
                cells[i, j] = _hsv_to_rgb255(base_hue + rng.uniform(-0.15, 0.15), rng.uniform(0.0, 0.35),
                                             rng.uniform(0.3, 0.85))  # fmt: skip
        img = cv2.resize(cells, (w, h), interpolation=cv2.INTER_CUBIC)
        # low-contrast textured regions
        for _ in range(int(rng.integers(1, 4))):
            region = _rasterise(
                _shape_polygons(str(rng.choice(["ellipse", "blob", "rounded_rect"])), 0.15, rng),
                h, w, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.6) * w, rng.uniform(0.2, 0.6) * h,
                rng.uniform(0, 180),
            )  # fmt: skip
            ys, xs = np.nonzero(region)
            if len(ys) == 0:
                continue
            t = _texture(str(rng.choice(["stripes", "noise", "checker"])), rng.uniform(0, 180), rng.uniform(5, 20),
                         0.8, h, w, 0, 0, rng)  # fmt: skip
            amp = rng.uniform(10, 28)
            img[ys, xs] += ((t[ys, xs] - 0.5) * amp)[:, None]
        # clutter: desaturated shapes, lines and a few saturated untextured polygons
        for _ in range(round(int(rng.integers(4, 11)) * self.clutter)):
            sat = rng.uniform(0.5, 0.9) if rng.random() < 0.15 else rng.uniform(0.0, 0.4)
            colour = np.asarray(_hsv_to_rgb255(rng.random(), sat, rng.uniform(0.25, 0.95)), np.float32)
            r = rng.uniform(0.03, 0.16) * min(h, w)
            if rng.random() < 0.3:
                p0 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                p1 = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                m = np.zeros((h, w), np.uint8)
                cv2.line(m, p0, p1, 1, thickness=int(rng.integers(1, 5)))
            else:
                n = int(rng.integers(3, 8))
                a = np.sort(rng.uniform(0, 2 * np.pi, n))
                rr = rng.uniform(0.5, 1.0, n)
                polys = [(np.stack([rr * np.cos(a), rr * np.sin(a)], axis=1), 1)]
                m = _rasterise(polys, h, w, rng.uniform(0, w), rng.uniform(0, h), r, r * rng.uniform(0.5, 1.5),
                               rng.uniform(0, 180))  # fmt: skip
            img[m > 0] = colour
        return img

    def _draw_object(
        self, rng: np.random.Generator, img: np.ndarray, label: np.ndarray, cls: ClassSpec, radius: float
    ) -> np.ndarray:
        """Draw one instance; return its full (pre-occlusion) mask."""
        h, w = label.shape
        aspect = cls.aspect * rng.uniform(0.85, 1.15)
        rx, ry = radius * aspect, radius
        margin = 0.35 * radius
        cx, cy = rng.uniform(-margin, w + margin), rng.uniform(-margin, h + margin)
        if rng.random() < 0.75:  # most objects lie (nearly) inside the image
            cx = rng.uniform(min(rx, w / 2), max(w - rx, w / 2))
            cy = rng.uniform(min(ry, h / 2), max(h - ry, h / 2))
        mask = _rasterise(_shape_polygons(cls.shape, cls.shape_param, rng), h, w, cx, cy, rx, ry, rng.uniform(0, 360))
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            return mask
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        t = _texture(
            cls.texture, cls.tex_angle + rng.uniform(-12, 12), cls.tex_period * rng.uniform(0.88, 1.12),
            cls.tex_param, y1 - y0, x1 - x0, x0, y0, rng,
        )  # fmt: skip
        c1 = _jitter_colour(cls.color1, rng, 1.0)
        c2 = _jitter_colour(cls.color2, rng, 1.0)
        local = (ys - y0, xs - x0)
        tv = t[local][:, None]
        colour = c1[None] * (1 - tv) + c2[None] * tv
        # soft shading across the object
        g = rng.uniform(-1, 1, 2)
        shade = 1.0 + 0.12 * (g[0] * (xs - cx) / max(rx, 1) + g[1] * (ys - cy) / max(ry, 1)) / 2
        img[ys, xs] = colour * shade[:, None]
        label[ys, xs] = cls.id
        return mask

    def _render(self, rng: np.random.Generator, h: int, w: int, main: int, others: list[int]) -> tuple[
        np.ndarray, np.ndarray
    ]:
        img = self._background(rng, h, w)
        label = np.zeros((h, w), np.uint8)
        side = min(h, w) * self.object_scale
        n_main = int(rng.choice([1, 2, 3], p=[0.7, 0.22, 0.08]))
        n_dist = min(int(rng.choice([0, 1, 2, 3], p=[0.15, 0.35, 0.3, 0.2])), self.max_distractors) if others else 0
        objects = [main] * n_main + [int(c) for c in rng.choice(others, size=n_dist)] if n_dist else [main] * n_main
        order = rng.permutation(len(objects))
        scale = {1: (0.11, 0.3), 2: (0.09, 0.22), 3: (0.08, 0.18)}[n_main]
        for i in order:
            cls = self.spec(objects[i])
            self._draw_object(rng, img, label, cls, rng.uniform(*scale) * side)
        min_px = self.min_main_fraction * h * w
        tries = 0
        while int((label == main).sum()) < min_px and tries < 10:  # guarantee a visible main object
            self._draw_object(rng, img, label, self.spec(main), rng.uniform(0.14, 0.3) * side)
            tries += 1
        img += rng.normal(0.0, 4.0, img.shape).astype(np.float32)
        img = cv2.GaussianBlur(img, (3, 3), 0.6)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8), label


# ----------------------------------------------------------------------------------------------
# Text vectors for synthetic class names
# ----------------------------------------------------------------------------------------------


class HashTextEmbedder:
    """A fixed pseudo-random unit vector per class name (the text input of synthetic-data models).

    The vector of a name depends only on ``(salt, dim, normalised name)``: SHAKE-256 of
    ``"{salt}|{dim}|{name}"`` gives 4·dim 32-bit words → uniforms u → approximately normal values
    ``(u1+u2+u3+u4−2)·√3`` (Irwin–Hall) → L2-normalised. No NumPy random stream is involved, so the
    vectors are identical on every platform and NumPy version. Names are normalised by lower-casing,
    trimming and joining runs of spaces/underscores/hyphens into one space.

    These vectors carry no meaning (unlike word2vec/CLIP): APA can only use them to tell classes
    apart during training; for novel names they are as informative as any random unit vector.
    Implements the ``TextEmbedder`` protocol of :mod:`symnet_core.inference.text_embeddings`.
    """

    kind = "hashed"

    def __init__(self, dim: int = 32, salt: str = "symnet-synthetic") -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self._dim = int(dim)
        self.salt = str(salt)
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self._dim

    @staticmethod
    def normalise(name: str) -> str:
        return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())

    def vector(self, name: str) -> np.ndarray:
        """float32 [dim], unit L2 norm (a copy)."""
        key = self.normalise(name)
        if not key:
            raise ValueError("class name is empty")
        if key not in self._cache:
            raw = hashlib.shake_256(f"{self.salt}|{self._dim}|{key}".encode()).digest(16 * self._dim)
            u = np.frombuffer(raw, dtype="<u4").astype(np.float64) / 4294967296.0
            z = (u.reshape(self._dim, 4).sum(axis=1) - 2.0) * math.sqrt(3.0)
            vec = (z / np.linalg.norm(z)).astype(np.float32)
            vec.setflags(write=False)
            self._cache[key] = vec
        return self._cache[key].copy()

    def embed(self, name: str) -> tuple[np.ndarray, str | None]:
        """(vector, None): every name has a vector (the ``TextEmbedder`` protocol)."""
        return self.vector(name), None

    def describe(self) -> dict[str, object]:
        """Plain data to record in a checkpoint's ``text_encoder`` field."""
        return {"kind": self.kind, "dim": self._dim, "salt": self.salt}


# ----------------------------------------------------------------------------------------------
# Demo folder
# ----------------------------------------------------------------------------------------------


def demo_dataset() -> SyntheticFewShot:
    """The synthetic dataset the shipped demo model was trained on (:data:`DEMO_DATASET`)."""
    return SyntheticFewShot(**DEMO_DATASET)


def dataset_from_metadata(data: dict[str, object]) -> SyntheticFewShot:
    """The dataset a checkpoint was trained on, from its ``metadata["data"]`` (:meth:`SyntheticFewShot.describe`).

    Raises:
        ValueError: the metadata does not describe a synthetic dataset.
    """
    if data.get("kind", "synthetic") != "synthetic" or "seed" not in data:
        raise ValueError("the checkpoint was not trained on the synthetic dataset")
    return SyntheticFewShot(
        int(data["seed"]), int(data["n_classes"]), int(data["held_out"]),  # type: ignore[call-overload]
        size_range=tuple(data.get("size_range", (176, 256))),  # type: ignore[arg-type]
        min_main_fraction=float(data.get("min_main_fraction", 0.012)),  # type: ignore[arg-type]
        object_scale=float(data.get("object_scale", 1.0)),  # type: ignore[arg-type]
        max_distractors=int(data.get("max_distractors", 3)),  # type: ignore[call-overload]
        clutter=float(data.get("clutter", 1.0)),  # type: ignore[arg-type]
        min_train_difference=int(data.get("min_train_difference", 2)),  # type: ignore[call-overload]
    )


def demo_folder_is_current(out_dir: str | os.PathLike[str], dataset: SyntheticFewShot | None = None) -> bool:
    """Whether ``out_dir`` holds a demo folder made from ``dataset`` (default :func:`demo_dataset`)
    by this generator version — an older one shows a class the current demo model never saw."""
    ds = dataset or demo_dataset()
    try:
        manifest = json.loads((Path(out_dir) / ".demo.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("dataset") == _dataset_tag(ds) and manifest.get("generator_version") == GENERATOR_VERSION


def _dataset_tag(ds: SyntheticFewShot) -> dict[str, int]:
    return {"seed": ds.seed, "n_classes": ds.n_classes, "held_out": ds.held_out,
            "min_train_difference": ds.min_train_difference}  # fmt: skip


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", compress_level=6)


def make_demo_folder(
    out_dir: str | os.PathLike[str],
    n_images: int = 40,
    seed: int = 0,
    with_supports: bool = True,
    *,
    dataset: SyntheticFewShot | None = None,
    class_id: int | None = None,
    n_supports: int = 3,
) -> dict[str, object]:
    """Write a folder of ``n_images`` scenes that all contain one *novel* class, plus masks.

    Layout (hidden folders are skipped by the annotation tool's image scan)::

        out_dir/demo_000.png … demo_{n-1}.png   RGB scenes (the images to annotate)
        out_dir/.supports/demo_XXX.png          masks of the first ``n_supports`` images (if with_supports)
        out_dir/.groundtruth/demo_XXX.png       masks of every image, for measuring the propagation
        out_dir/.groundtruth/labelmap.txt       ``0<TAB>background`` / ``1<TAB><class name>``
        out_dir/.demo.json                      class name and id, seeds, file lists, generator version

    Masks are 8-bit single-channel PNGs: 1 = the demo class, 0 = everything else (other classes'
    distractor objects included). Scenes come from the ``"demo"`` stream, so they differ from the
    scenes used for training and evaluation.

    Args:
        out_dir: created if needed; existing files of the same names are overwritten.
        n_images: number of scenes. seed: scene seed (different seeds, different scenes).
        with_supports: also write ``.supports/``.
        dataset: the class table (default :func:`demo_dataset`, the shipped demo model's).
        class_id: the novel class to show (default: the dataset's first novel class).
        n_supports: how many images get a support mask.

    Returns:
        The manifest written to ``.demo.json``.
    """
    ds = dataset or demo_dataset()
    cid = ds.novel_classes[0] if class_id is None else int(class_id)
    if cid not in ds.novel_classes:
        log.warning("class %d is a training class of this dataset, not a novel one", cid)
    if n_images < 1 or (with_supports and not 0 <= n_supports <= n_images):
        raise ValueError(f"need n_images >= 1 and 0 <= n_supports <= n_images, got {n_images}, {n_supports}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"demo_{i:03d}.png" for i in range(n_images)]
    pool = ds.split_pool("demo")
    for i, name in enumerate(names):
        rgb, label = ds.scene(seed * 100_003 + i, pool, main=cid, stream="demo")
        mask = (label == cid).astype(np.uint8)
        _write_png(out / name, rgb)
        _write_png(out / ".groundtruth" / name, mask)
        if with_supports and i < n_supports:
            _write_png(out / ".supports" / name, mask)
    class_name = ds.spec(cid).name
    (out / ".groundtruth" / "labelmap.txt").write_text(f"0\tbackground\n1\t{class_name}\n", encoding="utf-8")
    manifest: dict[str, object] = {
        "class_name": class_name,
        "class_id": cid,
        "dataset": _dataset_tag(ds),
        "scene_seed": seed,
        "generator_version": GENERATOR_VERSION,
        "images": names,
        "supports": names[:n_supports] if with_supports else [],
        "mask_values": {"0": "background", "1": class_name},
        "class_spec": asdict(ds.spec(cid)),
    }
    (out / ".demo.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest
