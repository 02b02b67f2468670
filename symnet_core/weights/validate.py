"""Checking a model file before it is registered (imports torch: call it off the GUI thread).

:func:`inspect_file` loads a checkpoint on the CPU into a freshly built Sym-Net with strict keys
(:func:`symnet_core.model.checkpoints.load_state_strict`: missing / unexpected keys and shape
mismatches are named), or reads a word2vec table with the numpy-only unpickler, and returns the
registry fields it learned: architecture, backbone, dataset, fold, base classes, shots, text
embedding kind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from symnet_core.weights.catalogue import guess_from_path
from symnet_core.weights.folds import base_class_names

__all__ = ["ValidationError", "expected_shapes", "inspect_file", "key_mismatches"]

_TABLE_ROWS = {21: "pascal", 81: "coco"}


class ValidationError(ValueError):
    """The file is not a usable Sym-Net checkpoint or word2vec table; the message names the file and why."""


def _inspect_word2vec(path: Path) -> dict[str, Any]:
    import pickle

    from symnet_core.inference.text.word2vec import EmbeddingTableError, Word2VecTable, _NumpyOnlyUnpickler

    try:
        with open(path, "rb") as f:
            arr = _NumpyOnlyUnpickler(f, path).load()
        rows = int(getattr(arr, "shape", (0,))[0])
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError, TypeError, IndexError) as exc:
        raise ValidationError(f"{path}: not a word2vec table ({exc})") from exc
    dataset = _TABLE_ROWS.get(rows)
    if dataset is None:
        raise ValidationError(f"{path}: a word2vec table has 21 (PASCAL) or 81 (COCO) rows, this one has {rows}")
    try:
        table = Word2VecTable.from_pickle(path, dataset=dataset)  # type: ignore[arg-type]
    except EmbeddingTableError as exc:
        raise ValidationError(str(exc)) from exc
    return {"kind": "word2vec", "dataset": dataset, "architecture": {"rows": rows, "dim": table.dim},
            "text_embedding": {"kind": "word2vec", "dataset": dataset}}


def inspect_file(path: str | os.PathLike[str], *, origin: str = "", dataset: str | None = None,
                 fold: int | None = None) -> dict[str, Any]:
    """Validate ``path`` and return registry fields (``kind``, ``architecture``, ``backbone``, ``dataset``,
    ``fold``, ``base_classes``, ``shots``, ``text_embedding``, ``description``).

    ``origin`` (source path or URL) is searched for ``pascal``/``coco``, ``splitN``/``foldN`` when the
    file does not record them; ``dataset``/``fold`` override both.
    Raises :class:`ValidationError`.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"{p}: no such file")
    if not _is_zip(p):  # word2vec tables are plain pickles; checkpoints (torch >= 1.6) are zip archives
        try:
            return _inspect_word2vec(p)
        except ValidationError:
            if p.suffix.lower() == ".pkl":
                raise
            # not a table: maybe a legacy (pre-zip) torch checkpoint, which torch reads below
    from symnet_core.model.checkpoints import CheckpointError, read_checkpoint

    try:
        info, state = read_checkpoint(p, "cpu")
        _check_keys(info.config, state, p)
    except CheckpointError as exc:
        raise ValidationError(str(exc)) from exc
    cfg = info.config
    guessed = guess_from_path(origin or str(p))
    ds = dataset or info.dataset or guessed.get("dataset")  # type: ignore[assignment]
    fd = fold if fold is not None else info.metadata.get("fold", guessed.get("fold"))
    base = tuple(info.base_classes)
    if not base and ds in ("pascal", "coco") and fd is not None:
        base = base_class_names(str(ds), int(fd))  # type: ignore[arg-type]
        if len(base) + 1 != cfg.num_base_outputs:
            base = ()
    return {
        "kind": "checkpoint",
        "architecture": {"layers": cfg.layers, "backbone_width": cfg.backbone_width, "reduce_dim": cfg.reduce_dim,
                         "num_base_outputs": cfg.num_base_outputs, "text_dim": cfg.text_dim,
                         "image_size": cfg.image_size, "format": info.source},
        "backbone": f"ResNet-{cfg.layers}" + ("" if cfg.backbone_width == 64 else f" (width {cfg.backbone_width})"),
        "dataset": ds,
        "fold": None if fd is None else int(fd),  # type: ignore[arg-type]
        "base_classes": base,
        "shots": cfg.shots,
        "text_embedding": dict(info.text_encoder),
        "description": info.describe(),
    }


def _is_zip(p: Path) -> bool:
    import zipfile

    return zipfile.is_zipfile(p)


def expected_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a Sym-Net state_dict for ``config``, from a model built on the meta device
    (no memory for the weights: a full ResNet-101 costs nothing here)."""
    import torch

    from symnet_core.model.symnet import SymNet

    with torch.device("meta"):
        model = SymNet(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def key_mismatches(expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]]) -> list[str]:
    """Human-readable mismatch groups between expected and found key -> shape maps (empty: they fit)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(f"{k} {found[k]}≠{expected[k]}" for k in set(expected) & set(found) if found[k] != expected[k])
    parts = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", wrong)):
        if items:
            more = f" … (+{len(items) - 12} more)" if len(items) > 12 else ""
            parts.append(f"{label} ({len(items)}): {', '.join(items[:12])}{more}")
    return parts


def _check_keys(config: Any, state: dict, path: Path) -> None:
    """Strict key/shape check against a meta-device model, then a real strict load on the CPU."""
    from symnet_core.model.checkpoints import CheckpointError, load_state_strict
    from symnet_core.model.symnet import SymNet

    parts = key_mismatches(expected_shapes(config), {k: tuple(v.shape) for k, v in state.items()})
    if parts:
        raise CheckpointError(f"{path}: does not fit the Sym-Net architecture — " + "; ".join(parts))
    load_state_strict(SymNet(config), state, path)
