"""Training augmentation (the BAM / PFENet recipe) and the evaluation letterbox, on numpy arrays.

Conventions: images are HxWx3 RGB (uint8 or float32 on the 0..255 scale); labels are HxW
``uint8``/``uint16`` maps where 255 means *ignore*. Several label maps can travel with one image
(e.g. the binary episode label and the base-class label); the first one decides what counts as
foreground for the crop (:class:`TrainAugment`). All randomness comes from the
``numpy.random.Generator`` passed in, so an augmentation is reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from symnet_core.inference.transforms import IGNORE_LABEL, SHRINK_ONLY, Letterbox, image_to_model
from symnet_core.model.config import IMAGENET_MEAN_255, IMAGENET_STD_255
from symnet_core.training.config import AugmentConfig

__all__ = [
    "TrainAugment",
    "binary_foreground",
    "letterbox_label",
    "letterbox_sample",
    "normalise",
    "semantic_foreground",
]

_MEAN = np.asarray(IMAGENET_MEAN_255, np.float32)
_STD = np.asarray(IMAGENET_STD_255, np.float32)

ForegroundFn = Callable[[np.ndarray], np.ndarray]


def binary_foreground(label: np.ndarray) -> np.ndarray:
    """Foreground of a binarised episode label: value 1."""
    return label == 1


def semantic_foreground(label: np.ndarray) -> np.ndarray:
    """Foreground of a class-index label: any class, i.e. not 0 and not 255."""
    return (label != 0) & (label != IGNORE_LABEL)


def normalise(image: np.ndarray) -> np.ndarray:
    """HxWx3 RGB (0..255) → [3,H,W] float32, ImageNet mean/std on the 0..255 scale."""
    out = (image.astype(np.float32) - _MEAN) / _STD
    return np.ascontiguousarray(out.transpose(2, 0, 1))


class TrainAugment:
    """Random scale → rotate → blur → flip → foreground-keeping crop.

    Args:
        cfg: the augmentation section of the config.
        crop_size: side of the square output.
        foreground: function label → bool mask used by the crop check (default
            :func:`binary_foreground`).
    """

    def __init__(self, cfg: AugmentConfig, crop_size: int, foreground: ForegroundFn = binary_foreground) -> None:
        self.cfg = cfg
        self.size = int(crop_size)
        self.foreground = foreground

    def __call__(
        self, image: np.ndarray, labels: Sequence[np.ndarray], rng: np.random.Generator
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Augment one sample.

        Args:
            image: HxWx3 uint8/float32 RGB. labels: HxW label maps (same size as the image).
            rng: randomness source.

        Returns:
            (image [3,S,S] float32 normalised, labels: S×S arrays of the input dtype, 255 = ignore/padding).
        """
        c = self.cfg
        img = image.astype(np.float32)
        labs = [np.asarray(lab) for lab in labels]
        for lab in labs:
            if lab.shape != img.shape[:2]:
                raise ValueError(f"label {lab.shape} does not match image {img.shape[:2]}")
        # 1. scale
        s = float(rng.uniform(c.scale[0], c.scale[1]))
        if abs(s - 1.0) > 1e-6:
            h, w = img.shape[:2]
            nh, nw = max(1, round(h * s)), max(1, round(w * s))
            img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
            labs = [cv2.resize(lab, (nw, nh), interpolation=cv2.INTER_NEAREST) for lab in labs]
        # 2. rotate
        if rng.random() < c.rotate_p:
            angle = float(rng.uniform(c.rotate[0], c.rotate[1]))
            h, w = img.shape[:2]
            m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
            img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=tuple(float(v) for v in _MEAN))  # fmt: skip
            labs = [
                cv2.warpAffine(
                    lab, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=IGNORE_LABEL
                )
                for lab in labs
            ]
        # 3. blur
        if rng.random() < c.blur_p:
            k = c.blur_kernel | 1
            img = cv2.GaussianBlur(img, (k, k), 0)
        # 4. flip
        if rng.random() < c.flip_p:
            img = img[:, ::-1]
            labs = [lab[:, ::-1] for lab in labs]
        # 5. crop
        img, labs = self._crop(np.ascontiguousarray(img), [np.ascontiguousarray(lab) for lab in labs], rng)
        return normalise(img), labs

    def _crop(
        self, img: np.ndarray, labs: list[np.ndarray], rng: np.random.Generator
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        s = self.size
        h, w = img.shape[:2]
        ph, pw = max(s - h, 0), max(s - w, 0)
        if ph or pw:  # pad evenly on both sides: mean colour / ignore
            top, left = ph // 2, pw // 2
            img = cv2.copyMakeBorder(img, top, ph - top, left, pw - left, cv2.BORDER_CONSTANT,
                                     value=tuple(float(v) for v in _MEAN))  # fmt: skip
            labs = [
                cv2.copyMakeBorder(lab, top, ph - top, left, pw - left, cv2.BORDER_CONSTANT, value=IGNORE_LABEL)
                for lab in labs
            ]
            h, w = img.shape[:2]
        fg = self.foreground(labs[0]) if labs else np.zeros((h, w), bool)
        total = int(fg.sum())
        best: tuple[int, int, int] | None = None
        for _ in range(max(1, self.cfg.crop_tries)):
            y0 = int(rng.integers(0, h - s + 1))
            x0 = int(rng.integers(0, w - s + 1))
            kept = int(fg[y0 : y0 + s, x0 : x0 + s].sum()) if total else 0
            if best is None or kept > best[0]:
                best = (kept, y0, x0)
            if total == 0 or kept >= self.cfg.crop_keep_fg * total:
                break
        assert best is not None
        _, y0, x0 = best
        return img[y0 : y0 + s, x0 : x0 + s], [lab[y0 : y0 + s, x0 : x0 + s] for lab in labs]


def letterbox_label(label: np.ndarray, box: Letterbox) -> np.ndarray:
    """HxW label → S×S label on the model canvas (nearest resize, padding 255), dtype kept."""
    content = label
    if (box.new_h, box.new_w) != (box.orig_h, box.orig_w):
        content = cv2.resize(label, (box.new_w, box.new_h), interpolation=cv2.INTER_NEAREST)
    out = np.full((box.size, box.size), IGNORE_LABEL, dtype=label.dtype)
    out[: box.new_h, : box.new_w] = content
    return out


def letterbox_sample(image: np.ndarray, labels: Sequence[np.ndarray], size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Evaluation transform of ``symnet-train``: letterbox image and labels into an S×S canvas.

    Resize mode :data:`~symnet_core.inference.transforms.SHRINK_ONLY` (the authors' ``test_Resize``): the
    training crops keep images at their native scale, so small images are not enlarged. This is
    what validation (model selection) and ``symnet-evaluate`` use; checkpoints record it as
    ``metadata["resize_mode"]`` so that the predictor letterboxes the same way. (The authors'
    configs evaluate with ``"fit"`` instead; on PASCAL/COCO the two differ only for the few
    images whose longer side is ≤ S.)

    Returns (image [3,S,S] float32 normalised, padding raw 0; labels S×S with padding 255).
    """
    box = Letterbox.fit(image.shape[0], image.shape[1], size, SHRINK_ONLY)
    return image_to_model(image, box), [letterbox_label(np.asarray(lab), box) for lab in labels]
