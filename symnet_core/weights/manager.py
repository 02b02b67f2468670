"""Adding, getting, verifying and removing models: the one API the CLI and the GUI service use.

:meth:`ModelManager.add` = fetch to a temporary file in the models folder (sha256 checked) ->
validate it (checkpoints are loaded on the CPU with strict keys; imports torch, so the GUI calls
this on a worker thread) -> move it into place (``os.replace``, atomic) -> record it in the
registry (atomic write). Nothing is left behind when any step fails or is cancelled.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from symnet_core.cancel import CancelLike
from symnet_core.project.atomic import atomic_move
from symnet_core.weights.catalogue import CatalogueEntry, guess_from_path, lookup
from symnet_core.weights.download import DownloadProgress, sha256_file
from symnet_core.weights.registry import ModelEntry, Registry, RegistryError, now_iso, valid_name
from symnet_core.weights.sources import fetch_to_temp, gdrive_list_folder, hf_cached_path, source_basename

__all__ = ["ModelManager", "VerifyResult"]

_EXTS = (".pth", ".pt", ".ckpt", ".pkl", ".bin")


@dataclass(frozen=True)
class VerifyResult:
    name: str
    ok: bool
    message: str


def _default_name(source: str) -> str:
    stem = Path(source_basename(source)).stem or "model"
    name = re.sub(r"[^A-Za-z0-9._+-]+", "-", stem).strip("-.") or "model"
    return name[:80]


def check_safetensors(path: Path) -> None:
    """A safetensors file starts with an 8-byte little-endian header length and a JSON header (torch-free check)."""
    import json
    import struct

    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if not 2 <= n <= 100_000_000:
                raise ValueError(f"header length {n}")
            header = json.loads(f.read(n))
        if not isinstance(header, dict) or not header:
            raise ValueError("empty header")
    except (OSError, ValueError, struct.error) as exc:
        raise RegistryError(f"{path}: not a safetensors weight file ({exc})") from exc


class ModelManager:
    """Models in one folder (``directory``: ``--models-dir``; default $SYMNET_MODELS_DIR or the user data dir)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.registry = Registry(directory)

    @property
    def directory(self) -> Path:
        return self.registry.directory

    def add(
        self,
        source: str,
        *,
        name: str | None = None,
        sha256: str | None = None,
        dataset: str | None = None,
        fold: int | None = None,
        description: str = "",
        origin: str | None = None,
        progress: Callable[[DownloadProgress], None] | None = None,
        stage: Callable[[str], None] | None = None,
        cancel: CancelLike | None = None,
    ) -> ModelEntry:
        """Fetch, verify, validate and register ``source``; returns the new entry.

        ``sha256`` pins the expected hash (mismatch: nothing kept, :class:`HashMismatch`); without it the
        hash is recorded at this first download. ``origin``: the path/name used to guess dataset and
        fold (default: ``source``). Raises :class:`RegistryError` (bad or taken name),
        :class:`DownloadError`, :class:`ValidationError`, ``OperationCancelled``.
        """
        name = name or _default_name(source)
        if not valid_name(name):
            raise RegistryError(f"invalid model name {name!r}: use letters, digits, '.', '_', '+', '-' (≤ 80)")
        if self.registry.get(name) is not None:
            raise RegistryError(f"a model called {name!r} is already installed; remove it first "
                                f"(`symnet-annotate models remove {name}`) or pass --name")
        if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise RegistryError(f"--sha256 must be 64 hex digits, got {sha256!r}")
        say = stage or (lambda _msg: None)
        say(f"fetching {source}")
        fetched = fetch_to_temp(source, self.directory, expected_sha256=sha256, progress=progress, cancel=cancel)
        try:
            say("validating (loading on the CPU)")
            from symnet_core.weights.validate import inspect_file

            fields = inspect_file(fetched.path, origin=origin or source, dataset=dataset, fold=fold)
            ext = Path(source_basename(origin or source)).suffix.lower()
            ext = ext if ext in _EXTS else (".pkl" if fields["kind"] == "word2vec" else ".pth")
            final = self.directory / f"{name}{ext}"
            if final.exists():
                raise RegistryError(f"{final} already exists and belongs to no registered model; move it away")
            atomic_move(fetched.path, final)
        except BaseException:
            fetched.path.unlink(missing_ok=True)
            raise
        entry = ModelEntry(
            name=name, kind=str(fields["kind"]), file=final.name, source=source, sha256=fetched.sha256,
            size=final.stat().st_size, added=now_iso(), architecture=fields.get("architecture", {}),
            backbone=str(fields.get("backbone", "")), dataset=fields.get("dataset"), fold=fields.get("fold"),
            base_classes=tuple(fields.get("base_classes", ())), shots=fields.get("shots"),
            text_embedding=fields.get("text_embedding", {}), sha256_pinned=sha256 is not None,
            description=description or str(fields.get("description", "")),
        )
        try:
            self.registry.put(entry)
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        say(f"installed {name} ({entry.size} bytes, sha256 {entry.sha256})")
        return entry

    def list_folder(self, catalogue_name: str) -> list[tuple[str, str]]:
        """(file id, path) of a folder entry's files (network, through gdown)."""
        entry = self._catalogue(catalogue_name)
        if entry.kind != "folder":
            raise RegistryError(f"{catalogue_name!r} is a single file, not a folder")
        return gdrive_list_folder(entry.source.rsplit("/", 1)[-1])

    def get(self, catalogue_name: str, *, file: str | None = None, name: str | None = None,
            files: list[tuple[str, str]] | None = None, **kw) -> ModelEntry:
        """Install a catalogue entry (a folder entry needs ``file``: a path or id from :meth:`list_folder`)."""
        entry = self._catalogue(catalogue_name)
        if entry.kind == "clip":
            return self._get_clip(entry, name or entry.name, kw.get("stage"), kw.get("cancel"))
        if entry.kind != "folder":
            return self.add(entry.source, name=name or entry.name, sha256=entry.sha256,
                            dataset=entry.dataset if entry.dataset in ("pascal", "coco") else None,
                            description=entry.title, **kw)
        if not file:
            raise RegistryError(f"{catalogue_name!r} is a folder: list it with `models get {catalogue_name}` "
                                "and choose with --file PATH")
        listing = files if files is not None else self.list_folder(catalogue_name)
        matches = [(fid, path) for fid, path in listing if file in (fid, path)]
        if len(matches) != 1:
            raise RegistryError(f"{file!r} is not one file of {catalogue_name!r} ({len(listing)} files listed)")
        fid, path = matches[0]
        guessed = guess_from_path(path)
        default = "authors-" + re.sub(r"[^A-Za-z0-9._+-]+", "-", str(Path(path).with_suffix(""))).strip("-.")
        return self.add(f"gdrive://{fid}", name=name or default[:80], origin=path,
                        description=f"{entry.title}: {path}",
                        dataset=kw.pop("dataset", None) or guessed.get("dataset"), **kw)  # type: ignore[arg-type]

    def _get_clip(self, entry: CatalogueEntry, name: str, stage: Callable[[str], None] | None,
                  cancel: CancelLike | None) -> ModelEntry:
        """Fetch CLIP weights into the Hugging Face cache (open_clip reads them there) and register them in place."""
        if self.registry.get(name) is not None:
            raise RegistryError(f"a model called {name!r} is already installed")
        if stage:
            stage(f"fetching {entry.source} into the Hugging Face cache")
        path = hf_cached_path(entry.source)
        check_safetensors(path)
        digest = sha256_file(path, cancel)
        model = {"clip-rn50-openai": "RN50", "clip-vit-b-32-openai": "ViT-B-32"}.get(entry.name, "")
        new = ModelEntry(name=name, kind="clip", file=str(path), source=entry.source, sha256=digest,
                         size=path.stat().st_size, added=now_iso(), description=entry.title,
                         text_embedding={"kind": "clip", "model": model, "pretrained": "openai"})
        self.registry.put(new)
        return new

    @staticmethod
    def _catalogue(name: str) -> CatalogueEntry:
        entry = lookup(name)
        if entry is None:
            from symnet_core.weights.catalogue import CATALOGUE

            raise RegistryError(f"no catalogue entry {name!r} (catalogue: {', '.join(e.name for e in CATALOGUE)})")
        return entry

    def verify(self, name: str | None = None, cancel: CancelLike | None = None) -> list[VerifyResult]:
        """Re-hash installed files against the registry (one name, or all)."""
        entries = [self.registry.require(name)] if name else self.registry.entries()
        out = []
        for e in entries:
            path = self.registry.file_of(e)
            if not path.is_file():
                out.append(VerifyResult(e.name, False, f"{path}: file missing"))
                continue
            digest = sha256_file(path, cancel)
            if digest != e.sha256:
                out.append(VerifyResult(e.name, False, f"{path}: sha256 {digest}, registry says {e.sha256}"))
            else:
                out.append(VerifyResult(e.name, True, f"{path}: sha256 ok"))
        return out

    def remove(self, name: str) -> ModelEntry:
        return self.registry.delete(name)

    def path_of(self, name: str) -> Path:
        """The installed file of ``name`` (:class:`RegistryError` when unknown or missing)."""
        entry = self.registry.require(name)
        path = self.registry.file_of(entry)
        if not path.is_file():
            raise RegistryError(f"model {name!r}: its file {path} is missing; `models remove {name}` and add it again")
        return path



