"""The authors' pickled word2vec tables (``word2vec_{pascal,coco}.pkl``): ``[21, 300]`` for
PASCAL and ``[81, 300]`` for COCO, row 0 = background. Checkpoints released by the authors were
trained with these vectors, so they must be used with them. Names outside the table get a
documented neutral vector and a warning text the GUI can show. Pickles are read with an
unpickler that rebuilds numpy arrays and nothing else. Not thread-safe: use one instance on one
thread (the inference worker).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from symnet_core.inference.text.base import alias_table, compact_name, normalize_class_name

__all__ = ["EmbeddingTableError", "Word2VecTable"]

_log = logging.getLogger(__name__)


class EmbeddingTableError(ValueError):
    """A word2vec table file is unreadable, of the wrong shape, or not a plain numpy array."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 pickles with protocol <= 2 store bytes as _codecs.encode(text, "latin1").
    if encoding.lower().replace("-", "") != "latin1":
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return text.encode("latin-1")


def _allowed_pickle_globals() -> dict[tuple[str, str], Any]:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else (no code runs from the file)."""

    def __init__(self, file: Any, source: Path) -> None:
        super().__init__(file, encoding="latin-1")
        self._source = source
        self._allowed = _allowed_pickle_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise EmbeddingTableError(
                f"{self._source}: refused to load '{module}.{name}'. A word2vec table may only "
                "contain a numpy array; this file is corrupt, not a table, or unsafe."
            ) from None


class Word2VecTable:
    """A class-name -> vector table, as in the authors' ``word2vec_{pascal,coco}.pkl``.

    Args:
        vectors: float array [N, D], row i = class ``class_names[i]`` (row 0 = background).
        class_names: N names; matching is case-, space-, underscore- and hyphen-insensitive.
        aliases: extra spellings -> a name in ``class_names``.
        source: where the table came from, for messages.

    Unknown names get the *neutral vector*: the L2-normalised mean of the class rows 1..N-1.
    Why: every row of the authors' tables has norm 1, so a unit vector keeps the APA input in the
    range the model saw in training; the mean leans towards no particular class, whereas row 0
    ("background") would tell APA the target is background and a zero vector is a norm never seen.
    APA adds the visual prototype residually, so a poor text vector degrades the prototype rather
    than breaking it; the warning returned with it asks the user to check the results.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        class_names: Sequence[str],
        aliases: Mapping[str, str] | None = None,
        source: str = "in-memory table",
    ) -> None:
        table = np.asarray(vectors)
        if table.ndim != 2 or table.shape[0] != len(class_names) or table.shape[1] == 0:
            raise EmbeddingTableError(f"{source}: expected a [{len(class_names)}, D] array, got shape {table.shape}")
        if not np.issubdtype(table.dtype, np.floating) or not np.isfinite(table).all():
            raise EmbeddingTableError(f"{source}: table must hold finite floats (dtype {table.dtype})")
        self._vectors = np.array(table, dtype=np.float32)
        self._vectors.setflags(write=False)
        self._names = tuple(class_names)
        self._source = source
        self._index = {compact_name(n): i for i, n in enumerate(self._names)}
        for alias, target in (aliases or {}).items():
            if compact_name(target) not in self._index:
                raise ValueError(f"alias {alias!r} points to {target!r}, which is not in the table")
            self._index.setdefault(compact_name(alias), self._index[compact_name(target)])
        class_rows = self._vectors[1:] if len(self._names) > 1 else self._vectors
        mean = class_rows.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        self._neutral = (mean / norm if norm > 1e-8 else np.zeros_like(mean)).astype(np.float32)
        self._neutral.setflags(write=False)

    @classmethod
    def from_pickle(cls, path: str | os.PathLike[str], dataset: Literal["pascal", "coco"] = "pascal") -> Word2VecTable:
        """Load an authors' table: a pickled numpy float array [21, D] (PASCAL) or [81, D] (COCO).

        The file is read with a restricted unpickler that only rebuilds numpy arrays, so an
        untrusted file cannot run code. Raises FileNotFoundError, or EmbeddingTableError naming the
        file when it is unreadable, holds anything but an array, or has the wrong number of rows.
        """
        dataset = dataset.lower()  # type: ignore[assignment]
        names, aliases = alias_table(dataset)
        path = Path(path)
        with path.open("rb") as f:
            try:
                obj = _NumpyOnlyUnpickler(f, path).load()
            except EmbeddingTableError:
                raise
            except Exception as exc:
                raise EmbeddingTableError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
        if not isinstance(obj, np.ndarray):
            raise EmbeddingTableError(f"{path}: expected a numpy array, found {type(obj).__name__}")
        if obj.ndim != 2 or obj.shape[0] != len(names):
            raise EmbeddingTableError(f"{path}: a {dataset} table must have shape [{len(names)}, D], got {obj.shape}")
        _log.debug("loaded %s word2vec table %s, shape %s", dataset, path, obj.shape)
        return cls(obj, names, aliases, source=str(path))

    @property
    def dim(self) -> int:
        """Vector width D (300 for the authors' tables)."""
        return int(self._vectors.shape[1])

    @property
    def class_names(self) -> tuple[str, ...]:
        """The row names, row 0 first."""
        return self._names

    @property
    def neutral_vector(self) -> np.ndarray:
        """float32 [D], unit norm (zeros only for a degenerate table); see the class docstring."""
        return self._neutral.copy()

    def _lookup(self, name: str) -> tuple[int | None, str | None]:
        key = compact_name(name)
        if key in self._index:
            return self._index[key], None
        for suffix in ("es", "s"):  # simple plurals: "cars", "buses"
            if key.endswith(suffix) and key[: -len(suffix)] in self._index:
                row = self._index[key[: -len(suffix)]]
                return row, f"Class name '{name}' was matched to the table entry '{self._names[row]}'."
        return None, None

    def index_of(self, name: str) -> int | None:
        """Official row index of ``name`` (0 = background), or None when it is not in the table."""
        return self._lookup(name)[0]

    def vector(self, name: str) -> tuple[np.ndarray, str | None]:
        """Return (float32 [D] copy, warning or None) for a class name.

        Unknown names give the neutral vector and a warning text meant for the user.
        Raises ValueError for an empty name.
        """
        if not normalize_class_name(name):
            raise ValueError("class name is empty")
        row, note = self._lookup(name)
        if row is not None:
            return self._vectors[row].copy(), note
        warning = (
            f"'{name}' is not in the word2vec table ({self._source}); a neutral text vector is used, "
            "so this class is matched on appearance only. Check its predictions, or use a model "
            "trained with CLIP text embeddings."
        )
        return self._neutral.copy(), warning

    def embed(self, name: str) -> tuple[np.ndarray, str | None]:
        """Same as :meth:`vector` (the :class:`TextEmbedder` protocol)."""
        return self.vector(name)

