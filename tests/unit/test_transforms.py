"""Letterboxing exactly as the authors' val transforms (both resize modes), and back to the original frame.

The comparison with the authors' own transform on real sizes is in tests/parity/test_pipeline_parity.py;
here sizes, pixel values and labels are checked against values worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from symnet_core.inference.transforms import (
    FIT,
    SHRINK_ONLY,
    Letterbox,
    image_to_model,
    mask_to_model,
    model_to_image,
    resize_mode_for,
)
from symnet_core.model.config import IMAGENET_MEAN_255, IMAGENET_STD_255


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


@pytest.mark.parametrize(
    ("h", "w", "fit", "shrink"),
    [
        # the multiple-of-8 rounding at and around the boundary S = 473
        (473, 300, (472, 296), (473, 300)),  # 300·473/473 = 300 → 296; shrink-only keeps 473
        (473, 473, (472, 472), (473, 473)),
        (474, 474, (472, 472), (472, 472)),  # larger than S: both modes resize
        (472, 472, (472, 472), (472, 472)),
        (471, 200, (472, 200), (471, 200)),  # 200·473/471 = 200.8 → 200 (already a multiple of 8)
        (300, 400, (352, 472), (300, 400)),  # 300·473/400 = 354.75 → 352
        (280, 360, (360, 472), (280, 360)),  # 280·473/360 = 367.9 → 360
        (7, 5, (472, 336), (7, 5)),  # 5·473/7 = 337.9 → 336
        (1, 400, (8, 472), (1, 400)),  # never below 8 (the authors' code would make a 0-px side)
    ],
)
def test_letterbox_sizes_in_both_modes(h, w, fit, shrink):
    for mode, expected in ((FIT, fit), (SHRINK_ONLY, shrink)):
        box = Letterbox.fit(h, w, 473, mode)
        assert (box.new_h, box.new_w) == expected, mode
        assert (box.orig_h, box.orig_w, box.size) == (h, w, 473)


def test_fit_is_the_default_and_unknown_modes_are_refused():
    assert Letterbox.fit(100, 60, 473) == Letterbox.fit(100, 60, 473, FIT)
    with pytest.raises(ValueError, match="resize mode"):
        Letterbox.fit(100, 60, 473, "upscale")


def _normalised(rgb) -> np.ndarray:
    return (np.asarray(rgb, np.float64) - np.asarray(IMAGENET_MEAN_255)) / np.asarray(IMAGENET_STD_255)


@pytest.mark.parametrize(("mode", "content"), [(FIT, (352, 472)), (SHRINK_ONLY, (300, 400))])
def test_constant_image_values_and_padding(mode, content):
    """Content pixels are the normalised colour, padding the normalised 0, in both modes."""
    img = np.empty((300, 400, 3), np.uint8)
    img[:] = (200, 100, 30)
    box = Letterbox.fit(300, 400, 473, mode)
    assert (box.new_h, box.new_w) == content
    x = image_to_model(img, box).astype(np.float64)
    ch, cw = content
    assert np.allclose(x[:, :ch, :cw], _normalised((200, 100, 30))[:, None, None], atol=1e-5)
    pad = _normalised((0, 0, 0))[:, None, None]
    assert np.allclose(x[:, ch:, :], pad, atol=1e-5) and np.allclose(x[:, :, cw:], pad, atol=1e-5)


def test_enlarged_ramp_has_bilinear_values():
    """A horizontal ramp enlarged 400 → 472 px: output pixel j samples the source at
    (j + 0.5)·400/472 − 0.5 (OpenCV's pixel-centre convention), clamped at the borders."""
    w = 400
    ramp = np.tile(np.arange(w, dtype=np.float64)[None, :] * 255 / (w - 1), (300, 1))
    img = np.repeat(np.rint(ramp)[..., None], 3, axis=2).astype(np.uint8)
    box = Letterbox.fit(300, w, 473, FIT)
    x = image_to_model(img, box).astype(np.float64)
    for j in (0, 1, 100, 235, 236, 400, 470, 471):
        src = float(np.clip((j + 0.5) * w / box.new_w - 0.5, 0, w - 1))
        lo = int(np.floor(src))
        hi = min(lo + 1, w - 1)
        raw = img[0, lo, 0] * (hi - src if hi != lo else 1.0) + img[0, hi, 0] * (src - lo if hi != lo else 0.0)
        expected = _normalised((raw, raw, raw))
        assert np.allclose(x[:, 150, j], expected, atol=1e-3), j
    assert np.allclose(x[:, 150, 472], _normalised((0, 0, 0)), atol=1e-6)  # column 472 is padding


def test_shrink_only_keeps_small_images_pixel_for_pixel():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (300, 473, 3), dtype=np.uint8)
    box = Letterbox.fit(300, 473, 473, SHRINK_ONLY)
    x = image_to_model(img, box)
    expected = _normalised(img.astype(np.float64)).transpose(2, 0, 1)
    assert np.abs(x[:, :300, :] - expected).max() < 1e-5
    fit = image_to_model(img, Letterbox.fit(300, 473, 473, FIT))
    assert np.allclose(fit[:, 296:, :], _normalised((0, 0, 0))[:, None, None], atol=1e-6)
    assert np.allclose(fit[:, :, 472], _normalised((0, 0, 0))[:, None], atol=1e-6)


def test_enlarged_mask_is_nearest_and_padded():
    mask = np.zeros((100, 60), bool)
    mask[:50, :30] = True  # top-left quarter
    box = Letterbox.fit(100, 60, 473, FIT)  # → 472×280
    y = mask_to_model(mask, box)
    assert set(np.unique(y)) == {0.0, 1.0, 255.0}
    assert (y[:236, :140] == 1).all() and (y[236:472, :280] == 0).all() and (y[:472, 140:280] == 0).all()
    assert (y[472:] == 255).all() and (y[:, 280:] == 255).all()
    small = mask_to_model(mask, Letterbox.fit(100, 60, 473, SHRINK_ONLY))
    assert (small[:50, :30] == 1).all() and (small[50:100, :60] == 0).all() and (small[100:] == 255).all()


class _Info:
    def __init__(self, source, metadata=None):
        self.source, self.metadata = source, metadata or {}


def test_resize_mode_for_each_kind_of_checkpoint():
    assert resize_mode_for(None) == FIT  # a model built in code
    assert resize_mode_for(_Info("official")) == FIT  # the authors' files: resized_val True
    assert resize_mode_for(_Info("symnet-annotate")) == SHRINK_ONLY  # ours, before the key was recorded
    assert resize_mode_for(_Info("symnet-annotate", {"resize_mode": "fit"})) == FIT
    assert resize_mode_for(_Info("symnet-annotate", {"resize_mode": "shrink-only"})) == SHRINK_ONLY
    assert resize_mode_for(_Info("symnet-annotate", {"resize_mode": "bogus"})) == SHRINK_ONLY


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
