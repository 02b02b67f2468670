"""Crash-safe file writes: a file is either its old version or its new one, never a mix.

``atomic_write_bytes`` (and ``atomic_write_stream``, for writers that stream into a file object,
such as ``torch.save``) writes a temporary file in the same folder, flushes and fsyncs it,
``os.replace``-s it over the target and fsyncs the folder (so the rename itself survives a
power cut). On any failure the temporary file is removed, the previous file is untouched and a
:class:`ProjectWriteError` naming the file is raised (chained to the ``OSError``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from symnet_core.project.errors import ProjectWriteError

__all__ = ["TEMP_SUFFIX", "atomic_move", "atomic_write_bytes", "atomic_write_stream", "fsync_dir", "remove_stale_temps",
           "write_hint"]

log = logging.getLogger(__name__)

#: Temporary files are named ``.<target name>.<random>.tmp`` next to the target.
TEMP_SUFFIX = ".tmp"

_HINTS = {
    errno.ENOSPC: "The disk is full: free some space and save again",
    errno.EDQUOT: "The disk quota is exceeded: free some space and save again",
    errno.EACCES: "Permission denied: check that the folder is writable",
    errno.EPERM: "Operation not permitted: check that the folder is writable",
    errno.EROFS: "The folder is on a read-only file system",
}


def write_hint(exc: BaseException) -> str:
    """What the user can do about a failed write, in words (``""`` when we cannot tell)."""
    hint = _HINTS.get(getattr(exc, "errno", None) or -1, "")
    return (
        f"{hint}. The previous version of the file is intact"
        if hint
        else ("The previous version of the file is intact")
    )


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """fsync a folder so a rename inside it is durable. A no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(os.fspath(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems (e.g. some network mounts) refuse; not fatal
        log.debug("fsync of folder %s failed: %s", directory, exc)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _write_stream(fd: int, write: Callable[[BinaryIO], object]) -> None:
    with os.fdopen(fd, "wb", closefd=False) as f:
        write(f)
        f.flush()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    Raises:
        ProjectWriteError: the write failed (disk full, permission denied...). ``path`` still
            holds its previous content (or still does not exist) and no temporary file is left.
    """
    _replace_with(Path(path), lambda fd: _write_all(fd, data))


def atomic_write_stream(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Replace ``path`` with what ``write(file)`` writes into a binary file object, atomically and durably.

    For writers that stream (``torch.save(obj, f)``, ``yaml.safe_dump``...). ``write`` may fail
    with any exception: the temporary file is removed and the exception propagates (an ``OSError``
    as :class:`ProjectWriteError` naming ``path``). The parent folder must exist.
    """
    _replace_with(Path(path), lambda fd: _write_stream(fd, write))


def _replace_with(target: Path, fill: Callable[[int], None]) -> None:
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    fd = -1
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        fill(fd)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException as exc:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, ProjectWriteError):
            raise ProjectWriteError(target, exc, write_hint(exc)) from exc
        raise
    fsync_dir(target.parent)


def atomic_move(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Move a finished file (e.g. a download in a temp file of the same folder) over ``target``, durably.

    fsyncs ``source``, ``os.replace``-s it and fsyncs the folder. On failure ``source`` is left for
    the caller to remove and :class:`ProjectWriteError` naming ``target`` is raised.
    """
    try:
        fd = os.open(os.fspath(source), os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(source, target)
    except OSError as exc:
        raise ProjectWriteError(target, exc, write_hint(exc)) from exc
    fsync_dir(Path(target).parent)


def remove_stale_temps(directory: str | os.PathLike[str]) -> int:
    """Delete temporary files left in ``directory`` by a crash mid-write; return how many.

    Call only while holding the project lock (no other writer can own them).
    """
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for e in entries:
        if e.name.startswith(".") and e.name.endswith(TEMP_SUFFIX) and e.is_file(follow_symlinks=False):
            try:
                os.unlink(e.path)
                removed += 1
            except OSError as exc:
                log.warning("could not remove stale temporary file %s: %s", e.path, exc)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted write in %s", removed, directory)
    return removed
