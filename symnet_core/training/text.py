"""Class-name vectors for training and evaluation (one vector per class, computed once).

Three sources (``text.kind`` in the config):

* ``hashed`` — :class:`symnet_core.inference.text.hashed.HashTextEmbedder`: a fixed pseudo-random unit vector
  per class name (SHAKE-256 of salt, width and name; documented there). Used for synthetic data.
* ``word2vec`` — the authors' tables through :class:`symnet_core.inference.text.Word2VecTable`.
* ``clip`` — :class:`symnet_core.inference.text.ClipTextEncoder` (open_clip, imported lazily).

:func:`text_encoder_metadata` gives the plain dict stored in checkpoints
(``text_encoder``), and :func:`embedder_from_metadata` rebuilds an embedder from it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from symnet_core.inference.text.hashed import HashTextEmbedder
from symnet_core.training.config import TextConfig

log = logging.getLogger(__name__)

__all__ = ["ClassTextTable", "build_embedder", "embedder_from_metadata", "text_encoder_metadata"]


def build_embedder(cfg: TextConfig) -> Any:
    """An object with ``dim`` and ``embed(name) -> (vector, warning)`` for ``cfg``."""
    if cfg.kind == "hashed":
        return HashTextEmbedder(cfg.dim, cfg.salt)
    if cfg.kind == "word2vec":
        from symnet_core.inference.text import Word2VecTable

        if not cfg.path:
            raise ValueError("text.kind=word2vec needs text.path (word2vec_pascal.pkl or word2vec_coco.pkl)")
        return Word2VecTable.from_pickle(cfg.path, dataset=(cfg.dataset or "pascal"))  # type: ignore[arg-type]
    if cfg.kind == "clip":
        from symnet_core.inference.text import ClipTextEncoder

        return ClipTextEncoder(cfg.model, cfg.pretrained, allow_download=cfg.allow_download)
    raise ValueError(f"unknown text kind {cfg.kind!r}")


def text_encoder_metadata(cfg: TextConfig, dim: int) -> dict[str, Any]:
    """The checkpoint's ``text_encoder`` record for ``cfg``."""
    if cfg.kind == "hashed":
        return {"kind": "hashed", "dim": dim, "salt": cfg.salt}
    if cfg.kind == "word2vec":
        return {"kind": "word2vec", "dataset": cfg.dataset or "pascal", "dim": dim}
    return {"kind": "clip", "model": cfg.model, "pretrained": cfg.pretrained, "dim": dim}


def embedder_from_metadata(meta: Mapping[str, Any], **kwargs: Any) -> Any:
    """Rebuild the embedder a checkpoint was trained with (``hashed`` and ``clip`` kinds; word2vec
    needs the table file: pass ``path=``)."""
    kind = meta.get("kind")
    if kind == "hashed":
        return HashTextEmbedder(int(meta["dim"]), str(meta.get("salt", "symnet-synthetic")))
    if kind == "clip":
        from symnet_core.inference.text import ClipTextEncoder

        return ClipTextEncoder(str(meta.get("model", "RN50")), meta.get("pretrained", "openai"), **kwargs)
    if kind == "word2vec":
        from symnet_core.inference.text import Word2VecTable

        if "path" not in kwargs:
            raise ValueError("a word2vec checkpoint needs the table file: embedder_from_metadata(meta, path=...)")
        return Word2VecTable.from_pickle(kwargs["path"], dataset=meta.get("dataset", "pascal"))
    raise ValueError(f"unknown text encoder kind {kind!r}")


class ClassTextTable:
    """Vectors of a fixed set of classes, looked up by dataset class id.

    Args:
        embedder: see :func:`build_embedder`. class_names: ``{class id: name}``.

    Attributes:
        dim: vector width. vectors: float32 tensor [max_id + 1, dim] (row = class id; unused rows 0).
    """

    def __init__(self, embedder: Any, class_names: Mapping[int, str]) -> None:
        self.dim = int(embedder.dim)
        ids = sorted(int(k) for k in class_names)
        table = np.zeros((max(ids, default=0) + 1, self.dim), np.float32)
        names = [class_names[i] for i in ids]
        if hasattr(embedder, "encode_many"):  # CLIP: one batched pass
            vecs = np.asarray(embedder.encode_many(names), np.float32)
        else:
            vecs = np.stack([np.asarray(embedder.embed(n)[0], np.float32) for n in names]) if names else table[:0]
        for i, v in zip(ids, vecs, strict=True):
            table[i] = v
        self.vectors = torch.from_numpy(table)

    def lookup(self, class_ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """[B, dim] float32 vectors for ``class_ids``."""
        idx = torch.as_tensor(class_ids, dtype=torch.long)
        return self.vectors[idx]
