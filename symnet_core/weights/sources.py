"""Getting a source's bytes into a temporary file in the models folder (torch-free).

SOURCE forms: a local path; ``http(s)://…`` (:mod:`symnet_core.weights.download`);
``hf://owner/repo/path/in/repo[@revision]`` (``huggingface_hub.hf_hub_download``: its cache, resume
and ``HF_HUB_OFFLINE`` rules); ``gdrive://FILE_ID`` (gdown, an optional dependency imported only
here, only on this explicit action); ``package:demo`` (the demo model shipped in the package).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from symnet_core.cancel import CancelLike, OperationCancelled
from symnet_core.weights.download import PART_SUFFIX, DownloadError, DownloadProgress, HashMismatch, download_url

__all__ = ["Fetched", "fetch_to_temp", "gdrive_list_folder", "hf_cached_path", "parse_hf", "source_basename"]

ProgressFn = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class Fetched:
    """A source's bytes in ``path`` (a temporary file in the models folder), with their sha256 hex."""

    path: Path
    sha256: str


def source_basename(source: str) -> str:
    """The file name a source points at (``x.pth`` for ``http://h/a/x.pth``, the id for gdrive://)."""
    if source.startswith("package:"):
        return "demo_model.pth"
    if "://" in source:
        parsed = urlparse(source)
        path = parsed.path.split("@")[0] if parsed.scheme == "hf" else parsed.path
        return Path(path).name or parsed.netloc
    return Path(source).name


def parse_hf(source: str) -> tuple[str, str, str | None]:
    """``hf://owner/repo/dir/file.pth@rev`` -> (``owner/repo``, ``dir/file.pth``, ``rev`` or None)."""
    rest = source[len("hf://"):]
    rest, _, revision = rest.partition("@")
    parts = rest.split("/")
    if len(parts) < 3 or not all(parts):
        raise DownloadError(f"{source}: expected hf://owner/repo/path/to/file[@revision]")
    return "/".join(parts[:2]), "/".join(parts[2:]), revision or None


def _temp(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    return dest / f".{secrets.token_hex(6)}{PART_SUFFIX}"


def _copy_hashing(src: Path, dest: Path, progress: ProgressFn | None, cancel: CancelLike | None) -> Fetched:
    part = _temp(dest)
    h = hashlib.sha256()
    total = src.stat().st_size
    done = 0
    start = time.monotonic()
    try:
        with open(src, "rb") as fin, open(part, "wb") as fout:
            while block := fin.read(1 << 20):
                if cancel is not None and cancel.is_set():
                    raise OperationCancelled()
                fout.write(block)
                h.update(block)
                done += len(block)
                if progress is not None:
                    rate = done / max(time.monotonic() - start, 1e-6)
                    progress(DownloadProgress(done, total, rate, (total - done) / rate if rate else None))
            fout.flush()
            os.fsync(fout.fileno())
        return Fetched(part, h.hexdigest())
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _hf(source: str, dest: Path, progress: ProgressFn | None, cancel: CancelLike | None) -> Fetched:
    return _copy_hashing(hf_cached_path(source), dest, progress, cancel)


def hf_cached_path(source: str) -> Path:
    """The hub-cache path of an ``hf://`` source, downloading it first unless ``HF_HUB_OFFLINE`` is set."""
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError as exc:  # pragma: no cover - huggingface_hub comes with open_clip_torch
        raise DownloadError(f"{source}: huggingface_hub is not installed ({exc})") from exc
    from symnet_core.inference.text.clip import _hf_offline_requested, default_hub_cache_dir

    repo_id, filename, revision = parse_hf(source)
    try:  # the environment is read now (huggingface_hub reads it once, at import)
        cached = hf_hub_download(repo_id, filename, revision=revision, cache_dir=default_hub_cache_dir(),
                                 local_files_only=_hf_offline_requested())
    except LocalEntryNotFoundError as exc:
        raise DownloadError(
            f"{source}: not in the Hugging Face cache and the hub cannot be reached or HF_HUB_OFFLINE is set "
            f"({exc}); copy the file here and use `symnet-annotate models add /path/to/{Path(filename).name}`"
        ) from exc
    except Exception as exc:  # the hub raises many types (HTTP, repo/entry not found, ...)
        raise DownloadError(f"{source}: {type(exc).__name__}: {exc}") from exc
    return Path(cached)


def _gdown():
    try:
        import gdown
    except ImportError as exc:
        raise DownloadError("Google Drive sources need gdown: pip install 'symnet-annotate[gdrive]' "
                            "(or download the file in a browser and use `models add /path/to/file`)") from exc
    return gdown


def gdrive_list_folder(folder_id: str) -> list[tuple[str, str]]:
    """(file id, path inside the folder) of every file of a public Google Drive folder, via gdown."""
    gdown = _gdown()
    try:
        files = gdown.download_folder(id=folder_id, skip_download=True, quiet=True, timeout=10)
    except Exception as exc:  # gdown raises requests errors, its own FolderContentsMaximumLimitError, ...
        raise DownloadError(
            f"gdrive://folder/{folder_id}: cannot list the Google Drive folder ({type(exc).__name__}: {exc}); "
            f"open https://drive.google.com/drive/folders/{folder_id} in a browser, download a file and use "
            "`symnet-annotate models add /path/to/file.pth`") from exc
    return [(f.id, f.path) for f in files or []]


def _gdrive(source: str, dest: Path, progress: ProgressFn | None, cancel: CancelLike | None) -> Fetched:
    file_id = source[len("gdrive://"):].strip("/")
    if file_id.startswith("folder/"):
        raise DownloadError(f"{source}: a folder; pick one of its files (models get NAME --file …)")
    gdown = _gdown()
    part = _temp(dest)
    start = time.monotonic()

    def on_bytes(done: int, total: int | None) -> None:
        if progress is not None:
            rate = done / max(time.monotonic() - start, 1e-6)
            progress(DownloadProgress(done, total, rate, (total - done) / rate if total and rate else None))

    try:
        gdown.download(id=file_id, output=str(part), quiet=True, progress=on_bytes, cancel=cancel,
                       timeout=(1.5, 30.0))
        if cancel is not None and cancel.is_set():
            raise OperationCancelled()
        if not part.is_file():
            raise DownloadError(f"{source}: gdown wrote no file")
        h = hashlib.sha256()
        with open(part, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        return Fetched(part, h.hexdigest())
    except (DownloadError, OperationCancelled):
        part.unlink(missing_ok=True)
        raise
    except Exception as exc:  # requests / gdown errors: one message naming the source
        part.unlink(missing_ok=True)
        if type(exc).__name__ == "DownloadCancelled" or (cancel is not None and cancel.is_set()):
            raise OperationCancelled() from exc
        raise DownloadError(f"{source}: {type(exc).__name__}: {exc}; download it in a browser from "
                            f"https://drive.google.com/file/d/{file_id} and use `models add /path/to/file`") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def fetch_to_temp(source: str, dest: str | os.PathLike[str], *, expected_sha256: str | None = None,
                  progress: ProgressFn | None = None, cancel: CancelLike | None = None) -> Fetched:
    """Bring ``source`` into a temporary file in ``dest``, sha256 checked when ``expected_sha256`` is given.

    Raises :class:`DownloadError`, :class:`HashMismatch` (file removed) or ``OperationCancelled``.
    """
    dest_dir = Path(dest)
    if source.startswith(("http://", "https://")):
        part, digest = download_url(source, dest_dir, expected_sha256=expected_sha256, progress=progress,
                                    cancel=cancel)
        return Fetched(part, digest)
    if source.startswith("hf://"):
        fetched = _hf(source, dest_dir, progress, cancel)
    elif source.startswith("gdrive://"):
        fetched = _gdrive(source, dest_dir, progress, cancel)
    elif source == "package:demo":
        from symnet_core.assets import demo_model_path

        if not demo_model_path().is_file():
            raise DownloadError(f"this installation has no demo model ({demo_model_path()})")
        fetched = _copy_hashing(demo_model_path(), dest_dir, progress, cancel)
    elif "://" in source:
        raise DownloadError(f"{source}: unknown scheme (use a file path, http(s)://, hf:// or gdrive://)")
    else:
        src = Path(source).expanduser()
        if not src.is_file():
            raise DownloadError(f"{src}: no such file")
        fetched = _copy_hashing(src, dest_dir, progress, cancel)
    if expected_sha256 and fetched.sha256 != expected_sha256.lower():
        fetched.path.unlink(missing_ok=True)
        raise HashMismatch(source, expected_sha256.lower(), fetched.sha256)
    return fetched
