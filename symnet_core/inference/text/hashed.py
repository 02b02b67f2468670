"""Hashed class-name vectors: a fixed pseudo-random unit vector per name (no vocabulary, no
weights). The text input of models trained on the synthetic data (``symnet_core.training.synthetic``)."""

from __future__ import annotations

import hashlib
import math

import numpy as np

__all__ = ["HashTextEmbedder"]


class HashTextEmbedder:
    """A fixed pseudo-random unit vector per class name (the text input of synthetic-data models).

    The vector of a name depends only on ``(salt, dim, normalised name)``: SHAKE-256 of
    ``"{salt}|{dim}|{name}"`` gives 4·dim 32-bit words → uniforms u → approximately normal values
    ``(u1+u2+u3+u4−2)·√3`` (Irwin–Hall) → L2-normalised. No NumPy random stream is involved, so the
    vectors are identical on every platform and NumPy version. Names are normalised by lower-casing,
    trimming and joining runs of spaces/underscores/hyphens into one space.

    These vectors carry no meaning (unlike word2vec/CLIP): APA can only use them to tell classes
    apart during training; for novel names they are as informative as any random unit vector.
    Implements the ``TextEmbedder`` protocol of :mod:`symnet_core.inference.text.base`.
    """

    kind = "hashed"

    def __init__(self, dim: int = 32, salt: str = "symnet-synthetic") -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self._dim = int(dim)
        self.salt = str(salt)
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self._dim

    @staticmethod
    def normalise(name: str) -> str:
        return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())

    def vector(self, name: str) -> np.ndarray:
        """float32 [dim], unit L2 norm (a copy)."""
        key = self.normalise(name)
        if not key:
            raise ValueError("class name is empty")
        if key not in self._cache:
            raw = hashlib.shake_256(f"{self.salt}|{self._dim}|{key}".encode()).digest(16 * self._dim)
            u = np.frombuffer(raw, dtype="<u4").astype(np.float64) / 4294967296.0
            z = (u.reshape(self._dim, 4).sum(axis=1) - 2.0) * math.sqrt(3.0)
            vec = (z / np.linalg.norm(z)).astype(np.float32)
            vec.setflags(write=False)
            self._cache[key] = vec
        return self._cache[key].copy()

    def embed(self, name: str) -> tuple[np.ndarray, str | None]:
        """(vector, None): every name has a vector (the ``TextEmbedder`` protocol)."""
        return self.vector(name), None

    def describe(self) -> dict[str, object]:
        """Plain data to record in a checkpoint's ``text_encoder`` field."""
        return {"kind": self.kind, "dim": self._dim, "salt": self.salt}
