"""Typed, frozen configuration of a Sym-Net model.

A :class:`SymNetConfig` holds every number that decides the *architecture* (and therefore the
state-dict keys and shapes). It never holds file paths: weights are loaded separately
(:mod:`symnet_core.model.checkpoints`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Pyramid bins the authors' configs use for their two input sizes.
KNOWN_PYRAMID_BINS: dict[int, tuple[int, int, int, int]] = {
    473: (60, 30, 15, 8),
    641: (81, 40, 20, 10),
}

#: ImageNet mean/std on the 0..255 scale, RGB order, exactly as the official transform uses them.
IMAGENET_MEAN_255: tuple[float, float, float] = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD_255: tuple[float, float, float] = (0.229 * 255, 0.224 * 255, 0.225 * 255)

BOTTLENECKS_PER_STAGE: dict[int, tuple[int, int, int, int]] = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
}


def feature_size(image_size: int) -> int:
    """Side of the stride-8 feature grid for a square input of ``image_size`` pixels."""
    return (image_size - 1) // 8 + 1


def default_pyramid_bins(image_size: int) -> tuple[int, int, int, int]:
    """Bins of the 4-level merge pyramid for an input size.

    473 → (60, 30, 15, 8) and 641 → (81, 40, 20, 10) as in the authors' configs; other sizes use
    ``(f, round(f/2), round(f/4), round(f/8))`` with Python's round-half-even, which reproduces
    both official tuples.
    """
    if image_size in KNOWN_PYRAMID_BINS:
        return KNOWN_PYRAMID_BINS[image_size]
    f = feature_size(image_size)
    return (f, max(1, round(f / 2)), max(1, round(f / 4)), max(1, round(f / 8)))


@dataclass(frozen=True)
class SymNetConfig:
    """Architecture of one Sym-Net.

    Attributes:
        layers: backbone depth, 50 or 101 (deep-stem dilated ResNet).
        num_base_outputs: outputs of the base learner = base classes + background
            (16 for PASCAL-5i, 61 for COCO-20i).
        shots: K the model was built for. K > 1 adds the ``kshot_rw`` shot-weighting head.
        text_dim: width of the class-name embedding (300 word2vec, 512/1024 CLIP).
        image_size: side S of the square model input (473 PASCAL, 641 COCO).
        backbone_width: channels of the first bottleneck stage (64 = the official ResNet). A
            smaller width gives a narrow ResNet for small demo models; all other backbone widths
            scale with it (stem w, w, 2w; stages 4w, 8w, 16w, 32w).
        reduce_dim: width of the meta-learner features (256 official).
        pyramid_bins: bins of the merge pyramid; ``None`` derives them from ``image_size``.
    """

    layers: int = 50
    num_base_outputs: int = 16
    shots: int = 1
    text_dim: int = 300
    image_size: int = 473
    backbone_width: int = 64
    reduce_dim: int = 256
    pyramid_bins: tuple[int, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.layers not in BOTTLENECKS_PER_STAGE:
            raise ValueError(f"layers must be one of {sorted(BOTTLENECKS_PER_STAGE)}, got {self.layers}")
        if self.num_base_outputs < 2:
            raise ValueError(f"num_base_outputs must be >= 2 (background + classes), got {self.num_base_outputs}")
        if self.shots < 1:
            raise ValueError(f"shots must be >= 1, got {self.shots}")
        if self.text_dim < 1:
            raise ValueError(f"text_dim must be >= 1, got {self.text_dim}")
        if self.image_size < 65:
            raise ValueError(f"image_size must be >= 65, got {self.image_size}")
        if self.backbone_width < 4 or self.backbone_width % 2:
            raise ValueError(f"backbone_width must be an even number >= 4, got {self.backbone_width}")
        if self.reduce_dim < 4:
            raise ValueError(f"reduce_dim must be >= 4, got {self.reduce_dim}")
        bins = self.pyramid_bins
        if bins is None:
            object.__setattr__(self, "pyramid_bins", default_pyramid_bins(self.image_size))
        else:
            bins = tuple(int(b) for b in bins)
            if not bins or any(b < 1 for b in bins):
                raise ValueError(f"pyramid_bins must be positive integers, got {bins}")
            if bins[0] != feature_size(self.image_size):
                raise ValueError(
                    f"pyramid_bins[0] must equal the feature size {feature_size(self.image_size)} "
                    f"of image_size {self.image_size}, got {bins[0]}"
                )
            object.__setattr__(self, "pyramid_bins", bins)

    # Derived sizes -------------------------------------------------------------------------
    @property
    def bottlenecks(self) -> tuple[int, int, int, int]:
        """Bottleneck blocks per stage (layer1..layer4)."""
        return BOTTLENECKS_PER_STAGE[self.layers]

    @property
    def feature_size(self) -> int:
        """Side of the stride-8 feature grid (60 for 473, 81 for 641)."""
        return feature_size(self.image_size)

    @property
    def stage_channels(self) -> tuple[int, int, int, int, int]:
        """Output channels of layer0..layer4 (128, 256, 512, 1024, 2048 for width 64)."""
        w = self.backbone_width
        return (2 * w, 4 * w, 8 * w, 16 * w, 32 * w)

    @property
    def mid_channels(self) -> int:
        """Channels of concat(layer3, layer2), the input of down_query/down_supp."""
        c = self.stage_channels
        return c[3] + c[2]

    # Serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["pyramid_bins"] = list(self.pyramid_bins or ())
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SymNetConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown SymNetConfig fields: {unknown}")
        kwargs = dict(data)
        if kwargs.get("pyramid_bins") is not None:
            kwargs["pyramid_bins"] = tuple(kwargs["pyramid_bins"])
        return cls(**kwargs)
