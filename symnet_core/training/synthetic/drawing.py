"""Drawing primitives of the synthetic scenes: unit polygons of each shape family, their
rasterisation (OpenCV, 1/16 px sub-pixel precision) and texture value fields.

Conventions: images are ``H x W``; points are (x, y) pixels with (0, 0) at the top-left corner;
angles are degrees. Masks are ``uint8`` {0, 1}; texture fields are ``float32`` in [0, 1].
"""

from __future__ import annotations

import colorsys
import math

import cv2
import numpy as np

from symnet_core.training.synthetic.classes import hsv_to_rgb255

__all__ = ["circle", "jitter_colour", "rasterise", "shape_polygons", "smooth_noise", "texture"]


def circle(n: int = 48, r: float = 1.0, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def shape_polygons(spec_shape: str, param: float, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """Unit-size polygons (x, y in about [-1, 1]) with fill values: 1 adds, 0 cuts a hole."""
    if spec_shape == "ellipse":
        return [(circle(), 1)]
    if spec_shape == "star":
        n = int(param)
        t = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
        r = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.42, 0.55))
        return [(np.stack([r * np.cos(t), r * np.sin(t)], axis=1), 1)]
    if spec_shape == "ring":
        return [(circle(), 1), (circle(r=param * rng.uniform(0.92, 1.08)), 0)]
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
        return [(circle(), 1), (circle(r=0.85, cx=off, cy=-0.1), 0)]
    raise ValueError(f"unknown shape {spec_shape!r}")


def rasterise(
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


def smooth_noise(rng: np.random.Generator, h: int, w: int, period: float) -> np.ndarray:
    """Smooth noise in [0, 1] (bicubic upsampling of a random grid with cells of ``period`` px)."""
    gh, gw = max(2, int(h / period) + 2), max(2, int(w / period) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (int(gw * period), int(gh * period)), interpolation=cv2.INTER_CUBIC)
    oy, ox = int(rng.integers(0, max(1, big.shape[0] - h))), int(rng.integers(0, max(1, big.shape[1] - w)))
    out = big[oy : oy + h, ox : ox + w]
    if out.shape != (h, w):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def texture(
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
        n = smooth_noise(rng, h, w, period)
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


def jitter_colour(rgb: tuple[float, float, float], rng: np.random.Generator, amount: float) -> np.ndarray:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255.0 for c in rgb))
    h += rng.uniform(-0.02, 0.02) * amount
    s *= 1 + rng.uniform(-0.12, 0.12) * amount
    v *= 1 + rng.uniform(-0.12, 0.12) * amount
    return np.asarray(hsv_to_rgb255(h, s, v), np.float32)
