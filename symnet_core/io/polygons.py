"""Shared polygon, contour and component helpers for every exporter and importer (COCO, YOLO, VOC, labelme, CVAT).

Two coordinate frames are used, and each format says which one it reads:

* **edge frame** (COCO, CVAT): pixel ``(x, y)`` covers ``[x, x+1) x [y, y+1)``; a polygon covers the
  pixels whose **centres** ``(x+0.5, y+0.5)`` lie inside it (pycocotools' rule). Outlines traced by
  :func:`component_rings` follow pixel *edges*, so they rasterise back to exactly the mask.
* **centre frame** (labelme, YOLO): pixel ``(x, y)`` *is* the point ``(x, y)``; a polygon covers its interior
  **and the pixels its outline passes through** (labelme's ``shape_to_mask``: PIL ``ImageDraw.polygon(outline=1,
  fill=1)``; ultralytics' ``polygon2mask``: ``cv2.fillPoly`` on int32 coordinates). Outlines traced by
  :func:`centre_outline` / :func:`centre_rings` run through boundary pixel centres.

Rings are ``(N, 2)`` ``float64`` arrays of ``(x, y)`` in pixels of the full image. Components are
**8-connected** (pixels touching at a corner are one object), the rule ``cv2.findContours`` traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils

__all__ = [
    "Component",
    "bridge_holes",
    "centre_outline",
    "centre_rings",
    "class_instances",
    "component_polygon",
    "component_rings",
    "components",
    "rasterise_centre_polygon",
    "rasterise_edge_rings",
    "rasterise_fillpoly",
]

_DILATE_KERNEL = np.ones((3, 3), np.uint8)
MAX_COORD = 1 << 20
"""Largest |coordinate| an importer accepts (pixels); larger or non-finite values are an error."""


@dataclass(frozen=True, eq=False)
class Component:
    """One 8-connected component: ``crop`` is a ``uint8`` 0/1 ``HcxWc`` array placed at ``(x0, y0)``."""

    crop: np.ndarray
    x0: int
    y0: int

    @property
    def area(self) -> int:
        return int(self.crop.sum())

    def full(self, h: int, w: int) -> np.ndarray:
        """The component as a full ``h x w`` bool mask."""
        out = np.zeros((h, w), bool)
        ch, cw = self.crop.shape
        out[self.y0 : self.y0 + ch, self.x0 : self.x0 + cw] = self.crop.astype(bool)
        return out


def components(class_mask: np.ndarray, min_area: int = 0, dropped: list[int] | None = None) -> list[Component]:
    """8-connected components of a bool ``HxW`` mask, in raster-scan order of their first pixel.

    Components with fewer than ``min_area`` pixels are left out; their count is appended to ``dropped``.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(class_mask).view(np.uint8), connectivity=8
    )
    out = []
    small = 0
    for k in range(1, n):
        x0, y0, cw, ch, area = (int(v) for v in stats[k])
        if area < min_area:
            small += 1
            continue
        out.append(Component((labels[y0 : y0 + ch, x0 : x0 + cw] == k).astype(np.uint8), x0, y0))
    if dropped is not None:
        dropped.append(small)
    return out


def class_instances(
    label_mask: np.ndarray, cat_ids: Sequence[int], *, per_component: bool, min_area: int, dropped: list[int]
) -> list[tuple[int, list[Component]]]:
    """``(class id, components)`` per instance of an ``HxW`` label mask: one instance per component, or
    (``per_component=False``) one per class holding all its components. Category order, then raster order."""
    present = set(np.unique(label_mask).tolist()) - {0}
    out: list[tuple[int, list[Component]]] = []
    for cid in cat_ids:
        if cid not in present:
            continue
        comps = components(label_mask == cid, min_area, dropped)
        if not comps:
            continue
        out.extend((cid, [c]) for c in comps) if per_component else out.append((cid, comps))
    return out


def component_rings(component: np.ndarray) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Exact edge-frame outline of ONE 8-connected component: ``(outer ring, hole rings)``.

    Args:
        component: ``HxW`` bool/uint8 array holding exactly one 8-connected component (any crop).

    Returns:
        Rings as ``(N, 2)`` float64 ``(x, y)`` in the edge frame of the given array. Sampling pixel centres,
        ``outer`` minus the holes is exactly ``component``. ``outer`` is None for an empty array.

    How: the mask is drawn on the doubled "inter-pixel" grid (corners and edge midpoints at even/odd
    indices, pixel centres at odd/odd), each pixel covering its closed 3x3 cell block; ``cv2.findContours``
    traces that, and ``(index - 1) / 2`` maps grid indices to pixel coordinates. Where the trace cuts a
    corner it cuts a half-pixel triangle that holds no pixel centre, so the rasterisation is unchanged.
    """
    m = np.asarray(component, dtype=np.uint8)
    h, w = m.shape
    grid = np.zeros((2 * h + 3, 2 * w + 3), np.uint8)  # one cell of zero padding on each side
    grid[2 : 2 * h + 1 : 2, 2 : 2 * w + 1 : 2] = m
    grid = cv2.dilate(grid, _DILATE_KERNEL)
    contours, hierarchy = cv2.findContours(grid, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None, []
    outer: np.ndarray | None = None
    holes: list[np.ndarray] = []
    for c, hh in zip(contours, hierarchy[0], strict=True):
        ring = (c.reshape(-1, 2).astype(np.float64) - 1.0) / 2.0
        if hh[3] == -1:
            if outer is None or len(ring) > len(outer):
                outer = ring
        else:
            holes.append(ring)
    return outer, holes


def component_polygon(component: np.ndarray, tolerance: float = 0.0) -> tuple[list[float] | None, bool]:
    """Outline of ONE 8-connected component as a flat COCO polygon ``[x1, y1, x2, y2, ...]`` (holes filled).

    Returns ``(polygon, has_holes)`` in the edge frame of the given array (see :func:`component_rings`);
    ``tolerance`` > 0 simplifies with ``cv2.approxPolyDP`` (epsilon in pixels). ``polygon`` is None if fewer
    than 3 points remain.
    """
    outer, holes = component_rings(component)
    if outer is None:
        return None, False
    pts = outer
    if tolerance > 0 and len(pts) > 3:
        simplified = cv2.approxPolyDP(pts.reshape(-1, 1, 2).astype(np.float32), float(tolerance), True)
        pts = simplified.reshape(-1, 2).astype(np.float64)
    if len(pts) < 3:
        return None, bool(holes)
    return [float(v) for v in pts.ravel()], bool(holes)


def _segment_inside(a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> bool:
    """Whether every pixel ``cv2.line`` draws from centre ``a`` to centre ``b`` is set in ``inside``."""
    canvas = np.zeros(inside.shape, np.uint8)
    cv2.line(canvas, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 1)
    return bool(inside[canvas.astype(bool)].all())


def bridge_holes(outer: np.ndarray, holes: Sequence[np.ndarray], inside: np.ndarray | None = None) -> np.ndarray:
    """One ring that holds the holes: each hole is joined to the ring by a zero-width cut (there and back).

    The cut's two edges coincide and enclose no area, so even-odd rasterisers give outer minus holes. The cut
    joins the closest pair of vertices; with ``inside`` (the ``HxW`` bool mask, centre frame, same coordinates)
    the closest pair whose straight line stays on the mask, so that rasterisers which also paint the outline
    (``cv2.fillPoly``, PIL) paint nothing outside the object.
    """
    ring = np.asarray(outer, np.float64)
    for hole in holes:
        h = np.asarray(hole, np.float64)
        d = ((ring[:, None, :] - h[None, :, :]) ** 2).sum(-1)
        order = np.argsort(d, axis=None)
        i, j = np.unravel_index(int(order[0]), d.shape)
        if inside is not None:
            for flat in order[:256]:
                ci, cj = np.unravel_index(int(flat), d.shape)
                if _segment_inside(ring[ci], h[cj], inside):
                    i, j = ci, cj
                    break
        loop = np.concatenate([h[j:], h[: j + 1]])  # hole from j back to j
        ring = np.concatenate([ring[: i + 1], loop, ring[i:]])
    return ring


def centre_outline(component: np.ndarray) -> np.ndarray | None:
    """Centre-frame outline of ONE 8-connected component (holes filled), ``(N, 2)`` float64 ``(x, y)``.

    The ring runs through the centres of the boundary pixels (``cv2.findContours``), so labelme's
    rasteriser (PIL polygon with outline) gives back exactly the component with its holes filled.
    A 1-pixel object is a single point (returned as one row); callers decide how to write it.
    """
    m = np.ascontiguousarray(component, dtype=np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=len)
    return c.reshape(-1, 2).astype(np.float64)


def centre_rings(component: np.ndarray) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Centre-frame ``(outer ring, hole rings)`` of ONE 8-connected component (``cv2.findContours``, RETR_CCOMP).

    Hole rings run through the object's pixels around each hole, so ``cv2.fillPoly(outer + holes)`` (even-odd,
    outline painted) gives back exactly the component. ``(N, 2)`` float64, coordinates of the given array.
    """
    m = np.ascontiguousarray(component, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer: np.ndarray | None = None
    holes: list[np.ndarray] = []
    for c, hh in zip(contours, hierarchy[0] if hierarchy is not None else [], strict=True):
        ring = c.reshape(-1, 2).astype(np.float64)
        if hh[3] == -1:
            if outer is None or len(ring) > len(outer):
                outer = ring
        else:
            holes.append(ring)
    return outer, holes


def rasterise_fillpoly(rings: Sequence[np.ndarray], h: int, w: int) -> np.ndarray:
    """ultralytics' rule (``polygon2mask``): ``cv2.fillPoly`` of int32 centre-frame rings, ``HxW`` bool.

    Coordinates are floored after adding 1e-3 px, so values written as ``x / w`` with 6 decimals and scaled
    back land on the intended pixel whichever way the writer rounded.
    """
    out = np.zeros((h, w), np.uint8)
    polys = [np.floor(np.asarray(r, np.float64) + 1e-3).astype(np.int32).reshape(-1, 1, 2) for r in rings if len(r)]
    if polys:
        cv2.fillPoly(out, polys, 1)
    return out.astype(bool)


def check_points(points: np.ndarray, where: str) -> np.ndarray:
    """``points`` as ``(N, 2)`` float64, or ValueError naming ``where`` for NaN/inf/huge values."""
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{where}: points must be (x, y) pairs")
    if not np.isfinite(arr).all():
        raise ValueError(f"{where}: coordinates must be finite numbers (found NaN or infinity)")
    if arr.size and float(np.abs(arr).max()) > MAX_COORD:
        raise ValueError(f"{where}: coordinate {float(np.abs(arr).max()):g} is out of range")
    return arr


def rasterise_edge_rings(rings: Sequence[np.ndarray], h: int, w: int) -> np.ndarray:
    """Even-odd fill of edge-frame rings (pycocotools samples pixel centres): ``HxW`` bool.

    Each ring is rasterised by pycocotools and the results are XOR-ed, so an outer ring plus hole rings
    gives the donut; a single ring with zero-width cuts (:func:`bridge_holes`) gives it as well.
    """
    out = np.zeros((h, w), bool)
    for ring in rings:
        r = np.asarray(ring, np.float64)
        if len(r) < 3:
            continue
        rle = mask_utils.frPyObjects([[float(v) for v in r.ravel()]], h, w)
        out ^= mask_utils.decode(rle)[..., 0].astype(bool)
    return out


def rasterise_centre_polygon(points: np.ndarray, h: int, w: int) -> np.ndarray:
    """labelme's rule: PIL ``ImageDraw.polygon(outline=1, fill=1)`` in the centre frame, ``HxW`` bool."""
    img = Image.new("L", (w, h), 0)
    xy = [(float(x), float(y)) for x, y in np.asarray(points, np.float64)]
    if len(xy) == 1:
        xy = xy * 2
    ImageDraw.Draw(img).polygon(xy, outline=1, fill=1)
    return np.array(img, dtype=bool)

