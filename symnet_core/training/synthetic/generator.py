"""A synthetic few-shot segmentation dataset, fully determined by one integer seed.

Why: no real data or weights can be downloaded where the demo model is trained, yet the demo must
show Sym-Net propagating masks to *classes it never saw in training*. This module draws scenes
(RGB ``uint8`` image + ``uint8`` class-index label) whose object classes differ in shape,
texture and colour (the class table: :mod:`.classes`), on cluttered textured backgrounds, with
distractor objects of other classes.

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

Entry points: :class:`SyntheticFewShot` (``scene``, ``class_scene``, ``episode``). The demo folder
lives in :mod:`.demo_folder`; the class-name vectors of models trained on this data are
:class:`symnet_core.inference.text.hashed.HashTextEmbedder`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from symnet_core.training.synthetic.classes import (
    GENERATOR_VERSION,
    HUE_NAMES,
    SHAPES,
    TEXTURES,
    ClassSpec,
    generate_classes,
    hsv_to_rgb255,
    seeded_rng,
)
from symnet_core.training.synthetic.drawing import jitter_colour, rasterise, shape_polygons, texture

__all__ = ["SyntheticEpisode", "SyntheticFewShot"]

_SPLIT_CODES = {"train": 1, "val": 2, "test": 3, "demo": 4}
_SCENE_STREAM = 11


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
        rng = seeded_rng(self.seed, _SCENE_STREAM, _SPLIT_CODES[stream], index, main or 0, pool_code, size_code)
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
        rng = seeded_rng(self.seed, 23, _SPLIT_CODES[split], class_id, index)
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
                cells[i, j] = hsv_to_rgb255(base_hue + rng.uniform(-0.15, 0.15), rng.uniform(0.0, 0.35),
                                             rng.uniform(0.3, 0.85))  # fmt: skip
        img = cv2.resize(cells, (w, h), interpolation=cv2.INTER_CUBIC)
        # low-contrast textured regions
        for _ in range(int(rng.integers(1, 4))):
            region = rasterise(
                shape_polygons(str(rng.choice(["ellipse", "blob", "rounded_rect"])), 0.15, rng),
                h, w, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.6) * w, rng.uniform(0.2, 0.6) * h,
                rng.uniform(0, 180),
            )  # fmt: skip
            ys, xs = np.nonzero(region)
            if len(ys) == 0:
                continue
            t = texture(str(rng.choice(["stripes", "noise", "checker"])), rng.uniform(0, 180), rng.uniform(5, 20),
                         0.8, h, w, 0, 0, rng)  # fmt: skip
            amp = rng.uniform(10, 28)
            img[ys, xs] += ((t[ys, xs] - 0.5) * amp)[:, None]
        # clutter: desaturated shapes, lines and a few saturated untextured polygons
        for _ in range(round(int(rng.integers(4, 11)) * self.clutter)):
            sat = rng.uniform(0.5, 0.9) if rng.random() < 0.15 else rng.uniform(0.0, 0.4)
            colour = np.asarray(hsv_to_rgb255(rng.random(), sat, rng.uniform(0.25, 0.95)), np.float32)
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
                m = rasterise(polys, h, w, rng.uniform(0, w), rng.uniform(0, h), r, r * rng.uniform(0.5, 1.5),
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
        mask = rasterise(shape_polygons(cls.shape, cls.shape_param, rng), h, w, cx, cy, rx, ry, rng.uniform(0, 360))
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            return mask
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        t = texture(
            cls.texture, cls.tex_angle + rng.uniform(-12, 12), cls.tex_period * rng.uniform(0.88, 1.12),
            cls.tex_param, y1 - y0, x1 - x0, x0, y0, rng,
        )  # fmt: skip
        c1 = jitter_colour(cls.color1, rng, 1.0)
        c2 = jitter_colour(cls.color2, rng, 1.0)
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
