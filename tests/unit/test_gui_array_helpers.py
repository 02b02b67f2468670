"""The GUI's pure-array helpers, tested without Qt or a display (they import neither Qt nor torch:
tests/unit/test_architecture_boundaries.py)."""

from __future__ import annotations

import numpy as np
import pytest

from symnet_gui.document.mask_ops import changed_bbox
from symnet_gui.imaging.overlays import compose_thumbnail, hex_rgb, uncertainty_rgba


def test_changed_bbox_is_the_box_of_the_differing_pixels():
    before = np.zeros((20, 30), np.uint8)
    after = before.copy()
    assert changed_bbox(before, after) is None
    after[4, 7] = 1
    after[9, 12] = 2
    assert changed_bbox(before, after) == (7, 4, 6, 6)  # (x, y, w, h): columns 7..12, rows 4..9
    after[:] = 3
    assert changed_bbox(before, after) == (0, 0, 30, 20)


def test_uncertainty_is_opaque_orange_at_the_threshold_and_clear_where_certain():
    p = np.array([[0.5, 0.0, 1.0, 0.45]], np.float32)
    rgba = uncertainty_rgba([p], threshold=0.5)
    assert rgba.shape == (1, 4, 4) and rgba.dtype == np.uint8
    assert rgba[0, 0, 3] == 230 and tuple(rgba[0, 0, :3]) == (230, 108, 18)  # premultiplied (255, 120, 20)
    assert rgba[0, 1].tolist() == [0, 0, 0, 0] and rgba[0, 2].tolist() == [0, 0, 0, 0]
    assert 0 < rgba[0, 3, 3] < 230
    assert (rgba[..., :3] <= rgba[..., 3:4]).all(), "premultiplied: no channel above alpha"


def test_uncertainty_uses_the_most_probable_class():
    low, high = np.full((2, 2), 0.5, np.float32), np.full((2, 2), 0.99, np.float32)
    assert uncertainty_rgba([low, high], 0.5)[..., 3].max() == 0
    assert uncertainty_rgba([], 0.5).shape == (1, 1, 4)


def test_compose_thumbnail_blends_class_colours_on_a_resized_mask():
    rgb = np.full((10, 10, 3), 100, np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[8:32, 8:32] = 2  # the centre of a 4x smaller thumbnail
    out = compose_thumbnail(rgb, mask, {2: "#ff0000"}, alpha=0.5)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert out[5, 5].tolist() == [177, 50, 50]  # inside: half image, half red
    assert out[0, 0].tolist() == [100, 100, 100]  # background untouched
    assert out[2, 5].tolist() == [255, 0, 0]  # the region's edge in the full colour
    assert compose_thumbnail(rgb, None, {2: "#ff0000"}).tolist() == rgb.tolist()


@pytest.mark.parametrize(("color", "rgb"), [("#000000", (0, 0, 0)), ("#3ecf8e", (62, 207, 142))])
def test_hex_rgb(color, rgb):
    assert hex_rgb(color) == rgb
