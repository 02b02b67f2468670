"""Reading and writing Sym-Net checkpoints: the authors' files and our own format.

Accepted inputs (all loaded with ``torch.load(weights_only=True)``, so no pickled code runs):

* the authors' training checkpoints ``{'epoch', 'state_dict', 'optimizer'}``, with or without the
  ``module.`` prefix DDP adds (the earlier ``HPNet`` class wrote the same keys);
* a bare state_dict;
* our format: ``{'format': 'symnet-annotate', 'format_version': 1, 'config': SymNetConfig dict,
  'metadata': {...}, 'state_dict': {...}}``.

The architecture is inferred from the keys (depth, K, base outputs, text width, backbone width);
our format also records the input size and the text encoder, which keys cannot tell.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from symnet_core.device import resolve_device
from symnet_core.model.config import SymNetConfig
from symnet_core.model.symnet import SymNet
from symnet_core.project.atomic import atomic_write_stream

log = logging.getLogger(__name__)

FORMAT_NAME = "symnet-annotate"
FORMAT_VERSION = 1
_PREFIXES = ("module.", "model.")
_OFFICIAL_SIZES = {16: ("pascal", 473), 61: ("coco", 641)}
_LIST_LIMIT = 12


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message names the file and says why."""


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint is, as far as the file tells.

    Attributes:
        path: the file. source: ``"official"`` (authors' format or bare state_dict) or ``"symnet-annotate"``.
        config: the architecture. dataset: ``"pascal"``, ``"coco"``, ``"synthetic"``, a user name or ``None``.
        text_encoder: e.g. ``{"kind": "word2vec", "dataset": "pascal"}`` or
            ``{"kind": "clip", "model": "RN50", "pretrained": "openai"}``; ``{}`` when unknown.
        base_classes: class names the base learner knows (background excluded), when recorded.
        metadata: everything else our format recorded (training figures, code version...).
    """

    path: str
    source: str
    config: SymNetConfig
    dataset: str | None = None
    text_encoder: Mapping[str, Any] = field(default_factory=dict)
    base_classes: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for a model panel: backbone, K, base classes, text encoder."""
        cfg = self.config
        text = self.text_encoder.get("kind", "unknown text encoder") if self.text_encoder else "unknown text encoder"
        if self.text_encoder.get("model"):
            text += f" {self.text_encoder['model']}"
        ds = f", {self.dataset}" if self.dataset else ""
        return (
            f"ResNet-{cfg.layers} (width {cfg.backbone_width}), {cfg.shots}-shot, "
            f"{cfg.num_base_outputs - 1} base classes{ds}, {text} (dim {cfg.text_dim}), input {cfg.image_size}"
        )


def _read(path: Path, map_location: torch.device) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; all mean "unusable"
        raise CheckpointError(
            f"{path}: not a loadable weights-only PyTorch checkpoint ({type(exc).__name__}: {exc}). "
            "Files that need arbitrary code to unpickle are refused."
        ) from exc


def _strip_prefixes(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = str(key)
        changed = True
        while changed:
            changed = False
            for prefix in _PREFIXES:
                if name.startswith(prefix):
                    name = name[len(prefix) :]
                    changed = True
        out[name] = value
    return out


def _shape(state: Mapping[str, torch.Tensor], key: str, path: Path) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointError(f"{path}: not a Sym-Net checkpoint (key {key!r} is missing)")
    return tuple(state[key].shape)


def infer_config(
    state: Mapping[str, torch.Tensor], path: Path | str = "<state_dict>", **overrides: Any
) -> SymNetConfig:
    """Infer the architecture from state-dict keys and shapes (``module.`` already stripped)."""
    path = Path(path)
    width = _shape(state, "layer0.0.weight", path)[0]
    layer3_blocks = {k.split(".")[1] for k in state if k.startswith("layer3.")}
    layers = {6: 50, 23: 101}.get(len(layer3_blocks))
    if layers is None:
        raise CheckpointError(f"{path}: layer3 has {len(layer3_blocks)} blocks; only ResNet-50 (6) and -101 (23) exist")
    num_base = _shape(state, "learner_base.1.4.weight", path)[0]
    reduce_dim = _shape(state, "down_query.0.weight", path)[0]
    text_dim = _shape(state, "CrossAttention.w_q.weight", path)[1] - reduce_dim
    shots = _shape(state, "kshot_rw.0.weight", path)[1] if "kshot_rw.0.weight" in state else 1
    n_bins = len({k.split(".")[1] for k in state if k.startswith("init_merge.")})
    kwargs: dict[str, Any] = {
        "layers": layers,
        "num_base_outputs": num_base,
        "shots": shots,
        "text_dim": text_dim,
        "backbone_width": width,
        "reduce_dim": reduce_dim,
        "image_size": _OFFICIAL_SIZES.get(num_base, ("", 473))[1],
    }
    kwargs.update(overrides)
    cfg = SymNetConfig(**kwargs)
    if len(cfg.pyramid_bins or ()) != n_bins:
        raise CheckpointError(f"{path}: {n_bins} pyramid levels in the file, {len(cfg.pyramid_bins or ())} configured")
    return cfg


def _format_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    return shown + (f" … (+{len(keys) - _LIST_LIMIT} more)" if len(keys) > _LIST_LIMIT else "")


def load_state_strict(model: SymNet, state: Mapping[str, torch.Tensor], path: Path | str = "<state_dict>") -> None:
    """Load ``state`` into ``model`` strictly; raise :class:`CheckpointError` listing every mismatch."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(
        f"{k} {tuple(state[k].shape)}≠{tuple(expected[k].shape)}"
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {_format_keys(missing)}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {_format_keys(unexpected)}")
        if wrong:
            parts.append(f"shape mismatches ({len(wrong)}): {_format_keys(wrong)}")
        raise CheckpointError(f"{path}: does not fit the Sym-Net architecture — " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def read_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[
    CheckpointInfo, dict[str, torch.Tensor]
]:
    """Read a checkpoint file into (info, state_dict) without building a model."""
    p = Path(path)
    raw = _read(p, resolve_device(device))
    if not isinstance(raw, Mapping):
        raise CheckpointError(f"{p}: expected a dict, found {type(raw).__name__}")
    if raw.get("format") == FORMAT_NAME:
        version = int(raw.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"{p}: written by a newer symnet-annotate (checkpoint format {version}, this version reads "
                f"≤ {FORMAT_VERSION}); update symnet-annotate"
            )
        state = _strip_prefixes(raw["state_dict"])
        meta = dict(raw.get("metadata", {}))
        try:
            cfg = SymNetConfig.from_dict(dict(raw["config"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{p}: invalid config in checkpoint: {exc}") from exc
        info = CheckpointInfo(
            path=str(p),
            source=FORMAT_NAME,
            config=cfg,
            dataset=meta.pop("dataset", None),
            text_encoder=dict(meta.pop("text_encoder", {}) or {}),
            base_classes=tuple(meta.pop("base_classes", ()) or ()),
            metadata=meta,
        )
        return info, state
    state_obj = raw.get("state_dict", raw.get("model", raw))
    if not isinstance(state_obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in state_obj.values()):
        raise CheckpointError(f"{p}: no state_dict of tensors found (keys: {_format_keys(sorted(map(str, raw)))})")
    state = _strip_prefixes(state_obj)
    cfg = infer_config(state, p)
    dataset = _OFFICIAL_SIZES.get(cfg.num_base_outputs, (None, 0))[0]
    text: dict[str, Any] = {}
    if cfg.text_dim == 300 and dataset:
        text = {"kind": "word2vec", "dataset": dataset}
    elif cfg.text_dim == 512:
        text = {"kind": "clip", "model": "ViT-B-32"}
    meta = {k: raw[k] for k in ("epoch",) if k in raw and isinstance(raw[k], int | float)}
    return CheckpointInfo(str(p), "official", cfg, dataset, text, (), meta), state


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> SymNet:
    """Build a :class:`SymNet` from a checkpoint file, load it strictly, move it to ``device``, eval mode.

    The returned model carries ``model.checkpoint_info`` (:class:`CheckpointInfo`).
    Raises :class:`CheckpointError` for unreadable files or any key/shape mismatch.
    """
    info, state = read_checkpoint(path, "cpu")
    model = SymNet(info.config)
    load_state_strict(model, state, info.path)
    model.checkpoint_info = info  # type: ignore[attr-defined]
    return model.to(resolve_device(device)).eval()


def save_checkpoint(
    model: SymNet,
    path: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    text_encoder: Mapping[str, Any] | None = None,
    base_classes: tuple[str, ...] | list[str] = (),
    metadata: Mapping[str, Any] | None = None,
    storage_dtype: str = "float32",
) -> Path:
    """Write ``model`` in our format atomically (temp file, fsync, replace). Returns the path.

    ``metadata`` must hold only plain data (str, numbers, bools, lists, dicts) so that the file
    stays loadable with ``weights_only=True``. ``storage_dtype="float16"`` stores floating-point
    tensors in half precision (half the file size; loading casts them back to the model's
    float32, so the loaded model differs from the saved one by fp16 rounding, ≈ 5e-4 relative —
    measure a model's accuracy on the file you ship).
    """
    if storage_dtype not in ("float32", "float16"):
        raise ValueError(f"storage_dtype must be 'float32' or 'float16', got {storage_dtype!r}")
    half = storage_dtype == "float16"
    from symnet_core import __version__

    p = Path(path)
    meta = dict(metadata or {})
    meta.update(
        dataset=dataset,
        text_encoder=dict(text_encoder or {}),
        base_classes=list(base_classes),
        code_version=__version__,
        storage_dtype=storage_dtype,
    )
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "metadata": meta,
        "state_dict": {
            k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
            for k, v in model.state_dict().items()
        },
    }
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_stream(p, lambda f: torch.save(payload, f))
    return p
