"""The shared outline helpers (symnet_core/io/polygons.py) rasterise back to the mask under each format's rule,
holes included, on random 8-connected components."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from symnet_core.io.polygons import (
    bridge_holes,
    centre_outline,
    centre_rings,
    check_points,
    component_rings,
    components,
    rasterise_centre_polygon,
    rasterise_edge_rings,
    rasterise_fillpoly,
)


def _random_components(n_masks: int = 120):
    rng = np.random.default_rng(7)
    for t in range(n_masks):
        h, w = (int(v) for v in rng.integers(4, 32, 2))
        m = (rng.random((h, w)) < rng.uniform(0.2, 0.8)).astype(np.uint8)
        if t % 3:
            m = cv2.morphologyEx(m, cv2.MORPH_OPEN if t % 2 else cv2.MORPH_CLOSE, np.ones((2, 2), np.uint8))
        for c in components(m.astype(bool)):
            yield c, h, w


def test_outlines_rasterise_back_exactly_holes_included():
    n = holes_seen = inexact_cuts = 0
    for c, h, w in _random_components():
        n += 1
        full = c.full(h, w)
        off = np.array([c.x0, c.y0], np.float64)
        outer, holes = component_rings(c.crop)
        holes_seen += bool(holes)
        rings = [outer + off, *(r + off for r in holes)]
        assert np.array_equal(rasterise_edge_rings(rings, h, w), full)  # COCO/CVAT rule, rings
        assert np.array_equal(rasterise_edge_rings([bridge_holes(rings[0], rings[1:])], h, w), full)  # one ring
        c_outer, c_holes = centre_rings(c.crop)
        assert np.array_equal(rasterise_fillpoly([c_outer + off, *(r + off for r in c_holes)], h, w), full)
        bridged = rasterise_fillpoly([bridge_holes(c_outer, c_holes, inside=c.crop.astype(bool)) + off], h, w)
        if not np.array_equal(bridged, full):  # YOLO's one ring with cuts, ultralytics' rule
            inexact_cuts += 1
            assert (bridged & full).sum() / (bridged | full).sum() >= 0.99
        filled = rasterise_edge_rings([rings[0]], h, w)
        assert np.array_equal(rasterise_centre_polygon(centre_outline(c.crop) + off, h, w), filled)  # labelme
    assert n > 500 and holes_seen > 20
    assert inexact_cuts <= n // 100


@pytest.mark.parametrize("bad", [[[0, 0], [np.nan, 1]], [[0, 0], [1e9, 1]], [[0, 0, 0]]])
def test_check_points_refuses_nan_huge_and_ragged(bad):
    with pytest.raises(ValueError, match="where"):
        check_points(np.array(bad, dtype=np.float64), "where")


def test_component_polygon_still_exported_from_io():
    from symnet_core.io import component_polygon

    poly, holes = component_polygon(np.ones((1, 1), np.uint8))
    assert poly is not None and len(poly) == 8  # a 1-pixel object is a 1x1 square
    assert holes is False
