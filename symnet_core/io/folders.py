"""Listing the image files of a folder (no file is opened): natural order, odd files named.

Re-exported by :mod:`symnet_core.io.images` (``list_images``, ``natural_key``,
``SUPPORTED_EXTENSIONS``), where it lived before.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = ["SUPPORTED_EXTENSIONS", "list_images", "natural_key"]

log = logging.getLogger(__name__)

#: File extensions (lower case) that :func:`list_images` picks up.
SUPPORTED_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")

_DIGITS = re.compile(r"(\d+)")


def natural_key(rel_path: str) -> tuple[tuple[object, ...], ...]:
    """Sort key: per path component, digit runs compare as numbers, text case-insensitively.

    ``img2.png < img10.png``; ``a/b.png`` sorts with the other files of ``a/``.
    """
    parts = []
    for comp in rel_path.split("/"):
        pieces = _DIGITS.split(comp.casefold())
        parts.append(tuple(int(x) if i % 2 else x for i, x in enumerate(pieces)))
    return (*parts, (rel_path,))


def _not_listed_reason(entry: os.DirEntry[str]) -> str:
    """Why an image-named entry that is not a regular file is left out, in words."""
    if entry.is_symlink():
        try:
            os.stat(entry.path)
        except FileNotFoundError:
            return "dangling symbolic link (its target does not exist)"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "symbolic link loop"
            return f"symbolic link that cannot be followed ({exc.strerror})"
    try:
        mode = os.stat(entry.path).st_mode
    except OSError as exc:
        return f"cannot be accessed ({exc.strerror})"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO), not a file"
    if stat.S_ISDIR(mode):
        return "a folder named like an image (symlinked folders are not followed)"
    return "not a regular file (device or socket)"


def _walk(root: str, rel: str, recursive: bool, skipped: dict[str, str] | None) -> Iterator[str]:
    try:
        entries = list(os.scandir(os.path.join(root, rel) if rel else root))
    except OSError as exc:
        log.warning("skipping unreadable folder %s: %s", os.path.join(root, rel), exc)
        if skipped is not None:
            skipped[rel or "."] = f"unreadable folder ({exc.strerror or exc})"
        return
    for entry in entries:
        if entry.name.startswith("."):  # hidden files and the project's own .symnet/
            continue
        child = f"{rel}/{entry.name}" if rel else entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if recursive:
                    yield from _walk(root, child, recursive, skipped)
                continue
            if os.path.splitext(entry.name)[1].lower() not in SUPPORTED_EXTENSIONS:
                continue
            if entry.is_file():
                yield child
                continue
            why = _not_listed_reason(entry)
        except OSError as exc:
            why = "symbolic link loop" if exc.errno == errno.ELOOP else f"cannot be accessed ({exc.strerror or exc})"
        log.warning("not an image file, skipped: %s: %s", entry.path, why)
        if skipped is not None:
            skipped[child] = why


def list_images(
    folder: str | os.PathLike[str], recursive: bool = True, skipped: dict[str, str] | None = None
) -> list[str]:
    """Image files under ``folder`` as relative POSIX paths, naturally sorted.

    Picks files by extension (:data:`SUPPORTED_EXTENSIONS`, case-insensitive) without opening
    them. Skips hidden files and folders (names starting with ``.``, which includes the project
    folder ``.symnet``) and does not follow symlinked folders (no cycles); symlinked files are
    listed. Unreadable sub-folders, dangling symlinks, symlink loops, FIFOs and devices named like
    images are never silently dropped: each is logged as a warning naming it and, when ``skipped``
    is given, added to it as ``{relative path: reason}``.
    """
    root = os.fspath(Path(folder))
    if not os.path.isdir(root):
        raise NotADirectoryError(f"not a folder: {root}")
    return sorted(_walk(root, "", recursive, skipped), key=natural_key)
