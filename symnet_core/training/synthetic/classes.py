"""The class table of the synthetic dataset: shape families, textures, colours, names.

A class (:class:`ClassSpec`) is a combination of a shape family (:data:`SHAPES`), a texture
(:data:`TEXTURES`, with a class-specific orientation / period / dot size) and two colours (the
texture blends between them). Class ids are ``1..n``; label value 0 is background. The last
``held_out`` classes are *novel*: they never appear in training scenes; every shape family and
texture kind of a novel class also occurs among the training classes (new combinations of known
parts). Names are descriptive, e.g. ``"blue dotted ring"``. :func:`generate_classes` draws the
table from one seed (its own ``SeedSequence`` stream; no global RNG state).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ATTRIBUTES", "GENERATOR_VERSION", "HUE_NAMES", "SHAPES", "TEXTURES", "ClassKey", "ClassSpec",
           "generate_classes", "hsv_to_rgb255", "seeded_rng"]  # fmt: skip

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

_CLASS_STREAM = 7


def seeded_rng(*entropy: int) -> np.random.Generator:
    """A generator seeded only by ``entropy`` (each int masked to 32 bits)."""
    return np.random.default_rng(np.random.SeedSequence([int(e) & 0xFFFFFFFF for e in entropy]))


def hsv_to_rgb255(h: float, s: float, v: float) -> tuple[float, float, float]:
    """HSV (hue wraps, s and v clipped to [0, 1]) to an RGB triple in 0..255 (floats)."""
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
        color1=hsv_to_rgb255(hue, s1, v1),
        color2=hsv_to_rgb255(hue2, s2, v2),
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
        keys = _train_first_keys(rng := seeded_rng(seed, _CLASS_STREAM, n_classes, held_out), n_classes, held_out)
    elif min_train_difference == 1:
        keys = _novel_first_keys(rng := seeded_rng(seed, _CLASS_STREAM, n_classes, held_out, 1), n_classes, held_out)
    else:
        raise ValueError(f"min_train_difference must be 1 or 2, got {min_train_difference}")
    return tuple(_make_class(i + 1, k, rng) for i, k in enumerate(keys))
