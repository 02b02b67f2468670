"""Typed, frozen training configuration loaded from YAML.

A YAML file maps onto :class:`TrainConfig`; every section is a frozen dataclass and unknown keys
are errors (a typo must not silently fall back to a default). ``--set a.b=value`` style overrides
(:func:`apply_overrides`) are parsed as YAML scalars. Paths in a config are taken relative to the
current working directory.

Learning rate: ``optim.lr`` is the **effective** learning rate, used as is. The authors' PASCAL
config says ``base_lr: 0.005`` but their poly scheduler multiplies every parameter group by 10,
so their effective rate is 0.05; write ``lr: 0.05`` here to reproduce it. Nothing multiplies
``lr`` behind the user's back.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from symnet_core.model.config import SymNetConfig

__all__ = [
    "AugmentConfig",
    "CocoConfig",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "FolderConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "SyntheticConfig",
    "TextConfig",
    "TrainConfig",
    "apply_overrides",
    "config_to_dict",
    "load_config",
]

DATA_KINDS = ("synthetic", "pascal", "coco", "folder")
TEXT_KINDS = ("hashed", "word2vec", "clip")
STAGES = ("base", "meta")


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message says which key and why."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture (fields of :class:`symnet_core.model.config.SymNetConfig`).

    ``num_base_outputs`` and ``text_dim`` default to what the dataset and text encoder need
    (base classes + 1; the embedder's width) when left ``None``.
    """

    layers: int = 50
    backbone_width: int = 64
    reduce_dim: int = 256
    image_size: int = 473
    shots: int = 1
    num_base_outputs: int | None = None
    text_dim: int | None = None
    pyramid_bins: tuple[int, ...] | None = None

    def build(self, num_base_outputs: int, text_dim: int) -> SymNetConfig:
        """The :class:`SymNetConfig`, filling the dataset-dependent fields."""
        nb = self.num_base_outputs if self.num_base_outputs is not None else num_base_outputs
        td = self.text_dim if self.text_dim is not None else text_dim
        if nb != num_base_outputs:
            raise ConfigError(f"model.num_base_outputs={nb} but the dataset has {num_base_outputs - 1} base classes")
        if td != text_dim:
            raise ConfigError(f"model.text_dim={td} but the text encoder gives {text_dim}-d vectors")
        return SymNetConfig(
            layers=self.layers,
            num_base_outputs=nb,
            shots=self.shots,
            text_dim=td,
            image_size=self.image_size,
            backbone_width=self.backbone_width,
            reduce_dim=self.reduce_dim,
            pyramid_bins=self.pyramid_bins,
        )


@dataclass(frozen=True)
class SyntheticConfig:
    """:class:`symnet_core.training.synthetic.generator.SyntheticFewShot` arguments and split sizes.

    ``train_items`` is the number of distinct training scenes (they are drawn on demand, so this
    can be large); ``val_items`` / ``test_items`` are the query lists of the validation (used
    during training for model selection) and test (``symnet-eval``) splits, which draw from
    independent scene streams.
    """

    seed: int = 7
    n_classes: int = 30
    held_out: int = 6
    size_range: tuple[int, int] = (176, 256)
    min_main_fraction: float = 0.012
    object_scale: float = 1.0
    max_distractors: int = 3
    clutter: float = 1.0
    min_train_difference: int = 2
    train_items: int = 200_000
    val_items: int = 300
    test_items: int = 1000


@dataclass(frozen=True)
class FolderConfig:
    """A user folder: images + PNG class-index masks + a class-name file.

    ``masks_dir/<image stem>.png`` (sub-folders mirrored) holds class ids (0 background, 255
    ignore). ``classes_file`` is either ``labelmap.txt`` style (``id<TAB>name[<TAB>r,g,b]``) or
    one name per line (line k = class id k; a first line ``background`` is id 0). Classes named in
    ``novel_classes`` are held out of training (images containing them are not trained on) and
    make up the validation episodes; without novel classes the validation episodes use the base
    classes on the ``val_fraction`` of images set aside by a hash of their names.
    """

    images_dir: str = "images"
    masks_dir: str = "masks"
    classes_file: str = "classes.txt"
    novel_classes: tuple[str, ...] = ()
    val_fraction: float = 0.2


@dataclass(frozen=True)
class CocoConfig:
    """COCO-20i: ``annotations: png`` (BAM/PFENet layout: ``<split>2014/*.jpg`` and
    ``annotations/<split>2014/*.png`` with contiguous ids 1..80) or ``json`` (the COCO 2014
    ``annotations/instances_<split>2014.json``, rasterised with pycocotools; crowd regions = 255).
    ``split: interleaved`` (fold k novel = {k+1, k+5, ..., k+77}, the authors' ``use_split_coco``)
    or ``contiguous`` (fold k novel = 20k+1 … 20k+20)."""

    annotations: str = "png"
    split: str = "interleaved"


@dataclass(frozen=True)
class DataConfig:
    """Which dataset and fold.

    ``min_class_pixels``: a class counts in an image only with at least this many pixels
    (2·32·32 = 2048 in the PASCAL/COCO lists; the synthetic data guarantees its own minimum).
    ``index_cache``: folder for the per-image class index of PASCAL/COCO/folder datasets (default
    ``<root>/.symnet_index``).
    """

    kind: str = "synthetic"
    root: str | None = None
    fold: int = 0
    min_class_pixels: int = 2048
    train_list: str | None = None
    val_list: str | None = None
    index_cache: str | None = None
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    folder: FolderConfig = field(default_factory=FolderConfig)
    coco: CocoConfig = field(default_factory=CocoConfig)


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation (the BAM / PFENet recipe), applied independently to query and each support.

    Order: random scale → random rotation (prob ``rotate_p``; image padded with the mean colour,
    label with 255) → Gaussian blur (``blur_kernel``², prob ``blur_p``) → horizontal flip (prob
    ``flip_p``) → random crop of ``crop_size`` (default the model's input size) padded with mean
    colour / 255, re-drawn up to ``crop_tries`` times until it keeps ≥ ``crop_keep_fg`` of the
    foreground.
    """

    scale: tuple[float, float] = (0.9, 1.1)
    rotate: tuple[float, float] = (-10.0, 10.0)
    rotate_p: float = 0.5
    blur_p: float = 0.5
    blur_kernel: int = 5
    flip_p: float = 0.5
    crop_size: int | None = None
    crop_keep_fg: float = 0.85
    crop_tries: int = 30


@dataclass(frozen=True)
class TextConfig:
    """Class-name vectors for APA.

    * ``hashed``: :class:`symnet_core.inference.text.hashed.HashTextEmbedder` (``dim``, ``salt``) — a fixed
      random unit vector per name; the default for synthetic data.
    * ``word2vec``: the authors' table ``path`` (``word2vec_pascal.pkl`` / ``word2vec_coco.pkl``),
      ``dataset`` ``pascal``/``coco``.
    * ``clip``: open_clip text features (``model``, ``pretrained``; ``allow_download``).
    """

    kind: str = "hashed"
    dim: int = 32
    salt: str = "symnet-synthetic"
    path: str | None = None
    dataset: str | None = None
    model: str = "RN50"
    pretrained: str | None = "openai"
    allow_download: bool = False


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and schedule.

    ``lr`` is the effective learning rate (see the module docstring). Schedule: linear warm-up
    over ``warmup_iters``, then poly decay ``lr·(1 − it/iterations)^power`` per iteration.
    Length: ``iterations``, or ``epochs × iterations_per_epoch`` (default iterations per epoch =
    training list length / batch size).
    """

    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    power: float = 0.9
    warmup_iters: int = 0
    batch_size: int = 8
    iterations: int | None = None
    epochs: int | None = None
    iterations_per_epoch: int | None = None
    grad_clip: float | None = None


@dataclass(frozen=True)
class LossConfig:
    """Loss weights.

    Meta stage: total = main + aux_weight·(aux1 + aux2 + aux3 + triplet), triplet
    margin ``triplet_margin``. Base stage: CE of the base learner + ``base_aux_weight`` · CE of a
    temporary PSPNet auxiliary classifier on layer 3 + ``attribute_weight`` · mean CE of temporary
    1×1 attribute classifiers on layers 3 and 4 (synthetic data only: per-pixel shape family,
    texture kind and hue bin of the *training* classes, :meth:`SyntheticFewShot.attribute_tables`;
    0 = off). The temporary heads are not saved.
    """

    aux_weight: float = 1.0
    triplet_margin: float = 0.5
    triplet: bool = True
    base_aux_weight: float = 0.4
    attribute_weight: float = 0.0


@dataclass(frozen=True)
class EvalConfig:
    """Episodic evaluation (the BAM / PFENet protocol).

    ``episodes``: per run (default 1000 PASCAL / 5000 COCO / 1000 otherwise). ``seeds``: one run
    per seed, fixed so that two invocations print identical numbers. ``split``: which list the
    queries come from (synthetic: ``test``; the real datasets only have ``val``).
    """

    episodes: int | None = None
    seeds: tuple[int, ...] = (321, 322, 323, 324, 325)
    batch_size: int = 8
    split: str = "test"
    prior: str = "fast"


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    ``stage: base`` trains the backbone and the PSPNet base learner as an ordinary segmenter of
    the base classes; ``stage: meta`` trains the Sym-Net head on episodes with backbone and base
    learner frozen, starting from ``init_checkpoint`` (a base-stage checkpoint, or any checkpoint
    whose backbone + base learner fit).
    """

    stage: str = "meta"
    name: str = "symnet"
    seed: int = 321
    output_dir: str = "runs/symnet"
    device: str = "auto"
    amp: bool = True
    threads: int | None = None
    init_checkpoint: str | None = None
    num_workers: int = 0
    val_every: int = 500
    val_episodes: int = 300
    log_every: int = 20
    save_every: int = 200
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    text: TextConfig = field(default_factory=TextConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ConfigError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.data.kind not in DATA_KINDS:
            raise ConfigError(f"data.kind must be one of {DATA_KINDS}, got {self.data.kind!r}")
        if self.text.kind not in TEXT_KINDS:
            raise ConfigError(f"text.kind must be one of {TEXT_KINDS}, got {self.text.kind!r}")
        if self.optim.optimizer not in ("sgd", "adamw"):
            raise ConfigError(f"optim.optimizer must be 'sgd' or 'adamw', got {self.optim.optimizer!r}")
        if self.optim.iterations is None and self.optim.epochs is None:
            raise ConfigError("set optim.iterations or optim.epochs")
        if self.optim.batch_size < 1 or self.optim.lr <= 0:
            raise ConfigError("optim.batch_size must be >= 1 and optim.lr > 0")
        if self.data.kind != "synthetic" and not self.data.root:
            raise ConfigError(f"data.root is required for data.kind={self.data.kind!r}")
        if self.eval.prior not in ("fast", "official"):
            raise ConfigError("eval.prior must be 'fast' or 'official'")


# ----------------------------------------------------------------------------------------------
# Building dataclasses from plain data
# ----------------------------------------------------------------------------------------------


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _coerce(value: Any, tp: Any, where: str) -> Any:
    inner, optional = _strip_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: may not be null")
    if dataclasses.is_dataclass(inner):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return _build(inner, value, where)
    origin = typing.get_origin(inner)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if inner is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if inner is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if inner is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)  # YAML reads "1e-4" (no dot) as a string
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if inner is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def _build(cls: type, data: Mapping[str, Any], where: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from exc


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (lists instead of tuples) — YAML/JSON/checkpoint friendly."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {key}: {p} is not a section")
        node = child
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a raw config dict."""
    out = yaml.safe_load(yaml.safe_dump(data)) or {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        _set_dotted(out, key.strip(), yaml.safe_load(raw))
    return out


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (), data: Mapping[str, Any] | None = None
                ) -> TrainConfig:  # fmt: skip
    """Read a YAML file (or ``data``), apply overrides, build and validate a :class:`TrainConfig`."""
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read config ({exc})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{p}: the top level must be a mapping")
        raw = loaded or {}
    if data is not None:
        raw = {**raw, **dict(data)}
    raw = apply_overrides(raw, overrides)
    return _build(TrainConfig, raw)
