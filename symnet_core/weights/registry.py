"""The models folder and its registry file (torch-free: the GUI thread reads it).

Layout::

    <models dir>/                  platformdirs user data dir + "/models", or $SYMNET_MODELS_DIR, or --models-dir
        registry.json              {"format": "symnet-models", "version": 1, "models": {name: entry}}
        <name>.<ext>               the installed files (one file per entry)
        .<name>.<random>.part      a download in progress (removed on cancel or failure)

``registry.json`` is written atomically (:func:`symnet_core.project.atomic.atomic_write_bytes`), so
a crash leaves either the old or the new registry. Entries are plain JSON (see :class:`ModelEntry`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from symnet_core.project.atomic import atomic_write_bytes

__all__ = [
    "ENV_MODELS_DIR",
    "ModelEntry",
    "Registry",
    "RegistryError",
    "default_models_dir",
    "models_dir",
    "valid_name",
]

ENV_MODELS_DIR = "SYMNET_MODELS_DIR"
REGISTRY_FILE = "registry.json"
_FORMAT = "symnet-models"
_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,79}$")

#: Kinds of registered files. ``clip`` entries stay in the Hugging Face cache (``file`` is absolute).
KINDS = ("checkpoint", "word2vec", "clip")


class RegistryError(ValueError):
    """The registry file or a requested entry is unusable; the message names the file or entry."""


def default_models_dir() -> Path:
    """platformdirs' user data dir for ``symnet-annotate`` + ``/models`` (no environment override)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("symnet-annotate", appauthor=False)) / "models"


def models_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The models folder: ``override`` (``--models-dir``), else ``$SYMNET_MODELS_DIR``, else the default."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_MODELS_DIR, "").strip()
    return Path(env).expanduser() if env else default_models_dir()


def valid_name(name: str) -> bool:
    """Names are 1–80 characters of letters, digits, ``. _ + -``, starting with a letter or digit."""
    return bool(_NAME_RE.match(name))


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class ModelEntry:
    """One installed model file.

    Attributes:
        name: registry key (also the ``--model`` value). kind: ``"checkpoint"`` or ``"word2vec"``.
        file: file name inside the models folder. source: where it came from (path, URL, hf://, gdrive://).
        sha256: hex digest of the file (recorded at download when the source gave none).
        size: bytes. added: ISO-8601 UTC time of registration.
        architecture: for checkpoints, e.g. ``{"layers": 50, "backbone_width": 64, "num_base_outputs": 16,
            "text_dim": 300, "image_size": 473, "reduce_dim": 256}`` (inferred from the state-dict keys).
        backbone: e.g. ``"ResNet-50"``. dataset: ``"pascal"``, ``"coco"``, ``"synthetic"`` or ``None``.
        fold: PASCAL-5i / COCO-20i fold (0–3) when known (from the file name, the catalogue or the user).
        base_classes: class names the base learner was trained on (empty when unknown).
        shots: K the model was built for. text_embedding: ``{"kind": "word2vec", "dataset": ...}``,
            ``{"kind": "clip", ...}`` or ``{}``. sha256_pinned: the hash came from the catalogue or
            the user (``False``: recorded at first download, trust on first use).
        description: free text (catalogue title or the checkpoint's own description).
    """

    name: str
    kind: str
    file: str
    source: str
    sha256: str
    size: int
    added: str = ""
    architecture: Mapping[str, Any] = field(default_factory=dict)
    backbone: str = ""
    dataset: str | None = None
    fold: int | None = None
    base_classes: tuple[str, ...] = ()
    shots: int | None = None
    text_embedding: Mapping[str, Any] = field(default_factory=dict)
    sha256_pinned: bool = False
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["base_classes"] = list(self.base_classes)
        d["architecture"] = dict(self.architecture)
        d["text_embedding"] = dict(self.text_embedding)
        return d

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelEntry:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known}
        kw["base_classes"] = tuple(kw.get("base_classes") or ())
        return cls(**kw)

    def trained_on(self) -> str:
        """Human summary of the training data: ``"PASCAL-5i fold 0 (15 base classes)"``, ``"unknown"``…"""
        if self.kind == "word2vec":
            return f"word2vec class table ({self.dataset or '?'})"
        if self.kind == "clip":
            return "CLIP text weights (open_clip, Hugging Face cache)"
        names = {"pascal": "PASCAL-5i", "coco": "COCO-20i"}
        ds = names.get(self.dataset or "", self.dataset or "unknown data")
        fold = f" fold {self.fold}" if self.fold is not None else ""
        base = f" ({len(self.base_classes)} base classes)" if self.base_classes else ""
        return ds + fold + base

    def summary(self) -> str:
        """One line: backbone, shots, training data, text embedding."""
        if self.kind in ("word2vec", "clip"):
            return self.trained_on()
        text = self.text_embedding.get("kind", "unknown text") if self.text_embedding else "unknown text"
        shots = f"{self.shots}-shot" if self.shots else "?-shot"
        return f"{self.backbone or 'Sym-Net'}, {shots}, {self.trained_on()}, {text}"


class Registry:
    """The registry of one models folder. Every method re-reads the file, so two processes stay in step.

    Not a database: concurrent writers may lose one of two simultaneous additions (last writer wins);
    the file itself is never torn.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = models_dir(directory)

    @property
    def path(self) -> Path:
        return self.directory / REGISTRY_FILE

    def _read(self) -> dict[str, ModelEntry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{self.path}: unreadable model registry ({exc}); fix or delete it") from exc
        if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
            raise RegistryError(f"{self.path}: not a symnet-annotate model registry")
        if int(raw.get("version", 0)) > _VERSION:
            raise RegistryError(f"{self.path}: written by a newer symnet-annotate (version {raw.get('version')})")
        out: dict[str, ModelEntry] = {}
        for name, data in dict(raw.get("models", {})).items():
            try:
                out[name] = ModelEntry.from_json({**data, "name": name})
            except TypeError as exc:
                raise RegistryError(f"{self.path}: entry {name!r} is invalid ({exc})") from exc
        return out

    def _write(self, entries: Mapping[str, ModelEntry]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = {"format": _FORMAT, "version": _VERSION,
                   "models": {n: e.to_json() for n, e in sorted(entries.items())}}
        atomic_write_bytes(self.path, (json.dumps(payload, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))

    def entries(self) -> list[ModelEntry]:
        """All entries, sorted by name."""
        return [e for _, e in sorted(self._read().items())]

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self.entries())

    def get(self, name: str) -> ModelEntry | None:
        return self._read().get(name)

    def require(self, name: str) -> ModelEntry:
        """The entry called ``name``; :class:`RegistryError` listing the installed names otherwise."""
        entry = self.get(name)
        if entry is None:
            names = ", ".join(e.name for e in self.entries()) or "none"
            raise RegistryError(f"no model called {name!r} in {self.directory} (installed: {names}); "
                                "see `symnet-annotate models list`")
        return entry

    def file_of(self, entry: ModelEntry) -> Path:
        return self.directory / entry.file

    def put(self, entry: ModelEntry) -> None:
        entries = self._read()
        entries[entry.name] = entry
        self._write(entries)

    def delete(self, name: str) -> ModelEntry:
        """Remove the entry and its file; returns the removed entry."""
        entries = self._read()
        entry = entries.pop(name, None)
        if entry is None:
            self.require(name)  # raises with the list of names
            raise AssertionError("unreachable")
        self._write(entries)
        shared = any(e.file == entry.file for e in entries.values())
        if not shared and not Path(entry.file).is_absolute():  # absolute: a Hugging Face cache file, not ours
            (self.directory / entry.file).unlink(missing_ok=True)
        return entry

    def find_word2vec(self, dataset: str) -> ModelEntry | None:
        """An installed word2vec table for ``dataset`` (``"pascal"``/``"coco"``), if any."""
        for e in self.entries():
            if e.kind == "word2vec" and e.dataset == dataset:
                return e
        return None
