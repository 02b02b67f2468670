"""The project's appearance-embedding cache: ``.symnet/embeddings.npz``.

One unit vector per image (:attr:`symnet_core.inference.types.Prediction.embedding`), written
by propagation for the images it predicted and the supports it used, read by "Next suggested
image" (:mod:`symnet_core.workflows.suggest`). It is a cache: losing it costs nothing but the
ranking until the next propagation, so a damaged or foreign file is ignored with a warning,
never an error. Vectors of one model only: storing vectors of another model replaces the file.

File: an ``.npz`` (no pickles) with ``model`` (0-d str), ``keys`` (str ``[N]``, image keys as in
the project) and ``vectors`` (``[N,C]``, stored as float16 — 4 KB per image for a 2048-channel
backbone, ranking needs no more precision — and read back as float32), replaced atomically.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from symnet_core.project.atomic import atomic_write_bytes
from symnet_core.project.schema import normalize_key

__all__ = ["EMBEDDINGS_FILE_NAME", "Embeddings", "read_embeddings", "store_embeddings"]

log = logging.getLogger(__name__)

EMBEDDINGS_FILE_NAME = "embeddings.npz"
_MAX_DIM = 65_536
_MAX_BYTES = 2 << 30


@dataclass(frozen=True)
class Embeddings:
    """Vectors of one model: ``vectors[key]`` is float32 ``[C]``, unit length."""

    model: str = ""
    vectors: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.vectors)


def _path(project_dir: Path) -> Path:
    return Path(project_dir) / EMBEDDINGS_FILE_NAME


def read_embeddings(project_dir: str | Path) -> Embeddings:
    """The cache of the project stored in ``project_dir`` (its ``.symnet`` folder); empty when
    there is none or it cannot be used (logged, naming the file)."""
    path = _path(Path(project_dir))
    try:
        if not path.is_file():
            return Embeddings()
        if path.stat().st_size > _MAX_BYTES:
            raise ValueError(f"larger than {_MAX_BYTES >> 30} GiB")
        with np.load(path, allow_pickle=False) as data:
            model, keys, vectors = data["model"], data["keys"], data["vectors"]
            if model.ndim != 0 or keys.ndim != 1 or vectors.ndim != 2 or vectors.shape[0] != keys.shape[0]:
                raise ValueError(f"unexpected shapes keys {keys.shape}, vectors {vectors.shape}")
            if not 0 < vectors.shape[1] <= _MAX_DIM and len(keys):
                raise ValueError(f"vectors of {vectors.shape[1]} features")
            if keys.dtype.kind != "U" or model.dtype.kind != "U":
                raise ValueError("keys and model must be text")
            if vectors.dtype.kind != "f":
                raise ValueError(f"vectors of dtype {vectors.dtype}")
            vectors = vectors.astype(np.float32)
            if not np.isfinite(vectors).all():
                raise ValueError("vectors contain NaN or infinity")
            return Embeddings(str(model), {normalize_key(str(k)): v for k, v in zip(keys, vectors, strict=True)})
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("%s: embedding cache ignored (%s); the next propagation rewrites it", path, exc)
        return Embeddings()


def store_embeddings(
    project_dir: str | Path, model: str, vectors: Mapping[str, np.ndarray], *, current: Embeddings | None = None
) -> Embeddings:
    """Merge ``vectors`` (image key → float ``[C]``) into the cache and write it atomically.

    Vectors of another ``model`` (or another length) already in the file are dropped. ``current``:
    the cache as the caller just read it (saves reading the file again). Returns the cache as written.

    Raises:
        ProjectWriteError: the file could not be written (the old one is intact).
        ValueError: a vector is not finite or the new vectors differ in length.
    """
    new = {normalize_key(k): np.asarray(v, dtype=np.float32).reshape(-1) for k, v in vectors.items()}
    dims = {v.shape[0] for v in new.values()}
    if len(dims) > 1:
        raise ValueError(f"vectors of different lengths: {sorted(dims)}")
    if any(not np.isfinite(v).all() for v in new.values()):
        raise ValueError("embedding vectors must be finite")
    old = read_embeddings(project_dir) if current is None else current
    merged: dict[str, np.ndarray] = {}
    if old.model == model and (not dims or {v.shape[0] for v in old.vectors.values()} <= dims):
        merged.update(old.vectors)
    merged.update(new)
    keys = sorted(merged)
    width = next(iter(dims)) if dims else (merged[keys[0]].shape[0] if keys else 0)
    matrix = np.stack([merged[k] for k in keys]) if keys else np.zeros((0, width), np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, model=np.array(model), keys=np.array(keys, dtype=str), vectors=matrix.astype(np.float16))
    atomic_write_bytes(_path(Path(project_dir)), buffer.getvalue())
    return Embeddings(model, merged)
