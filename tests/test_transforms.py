"""Letterboxing exactly as the authors' val transform, and back to the original frame."""

from __future__ import annotations

import numpy as np
import pytest

from symnet_core.config import IMAGENET_MEAN_255, IMAGENET_STD_255
from symnet_core.transforms import Letterbox, image_to_model, mask_to_model, model_to_image


@pytest.mark.parametrize(
    ("h", "w", "expected"),
    [
        (375, 500, (352, 472)),  # landscape VOC image: longer side 473 → 472, other int(375·473/500)=354 → 352
        (500, 375, (472, 352)),
        (473, 473, (472, 472)),  # longer side S is still rounded down to a multiple of 8
        (100, 60, (472, 280)),  # small images are enlarged (resized_val: True)
        (4000, 6000, (312, 472)),
        (900, 900, (472, 472)),
    ],
)
def test_letterbox_sizes(h, w, expected):
    box = Letterbox.fit(h, w, 473)
    assert (box.new_h, box.new_w) == expected


def test_shrink_only_option():
    box = Letterbox.fit(100, 60, 473, "shrink-only")
    assert (box.new_h, box.new_w) == (100, 60)


def test_image_and_mask_canvas_values():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    box = Letterbox.fit(300, 400, 129)
    x = image_to_model(img, box)
    assert x.shape == (3, 129, 129) and x.dtype == np.float32
    pad = (0 - np.asarray(IMAGENET_MEAN_255)) / np.asarray(IMAGENET_STD_255)
    assert np.allclose(x[:, -1, -1], pad, atol=1e-6)
    assert np.allclose(x[:, box.new_h :, :], pad[:, None, None], atol=1e-6)
    mask = np.zeros((300, 400), bool)
    mask[:150] = True
    y = mask_to_model(mask, box)
    assert set(np.unique(y)) == {0.0, 1.0, 255.0}
    assert (y[box.new_h :] == 255).all() and (y[:, box.new_w :] == 255).all()


def test_model_to_image_restores_original_size_and_content():
    box = Letterbox.fit(300, 400, 129)
    canvas = np.zeros((129, 129), np.float32)
    canvas[: box.new_h // 2, : box.new_w] = 1.0
    out = model_to_image(canvas, box)
    assert out.shape == (300, 400)
    assert out[:140].mean() > 0.95 and out[160:].mean() < 0.05
