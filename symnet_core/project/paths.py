"""The one place where paths read from project files become file-system paths.

A project folder may come from someone else (a colleague's USB stick, a downloaded data set), so
every name stored in ``project.json`` or ``journal.jsonl`` is untrusted input:

* an image **key** (``ImageRecord.path``) must be a relative POSIX path inside the images
  folder: no ``..`` segment, no absolute path, no drive letter or UNC prefix, no NUL, no
  backslash-separated ``..``;
* a **mask name** (``ImageRecord.mask``) must be one plain file name inside ``.symnet/masks/``:
  no separator at all, no NUL, no drive letter, not hidden (temporary files start with ``.``);
* at use time, :func:`inside` resolves symlinks and refuses a file whose real location is
  outside the folder it must be in (a mask symlinked to ``~/.ssh/id_rsa``, an image symlinked
  out of the images folder, a ``.symnet/masks`` that is itself a symlink to ``/etc``).

Records failing the textual checks are refused when the project is parsed (the whole file is
reported as damaged, naming the field); :func:`inside` failures raise :class:`UnsafePathError`
(a :class:`ProjectFormatError`) naming the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from symnet_core.project.errors import ProjectFormatError

__all__ = ["UnsafePathError", "check_image_key", "check_mask_name", "inside", "real_dir"]

_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafePathError(ProjectFormatError):
    """A path stored in a project points outside the folder it belongs to."""


def check_image_key(key: object, source: object = "project") -> str:
    """``key`` if it is a safe image key (relative POSIX path below the images root), else raise.

    Raises:
        UnsafePathError: naming ``source`` (the project file or journal) and the key.
    """
    if not isinstance(key, str) or not key:
        raise UnsafePathError(f"'{source}': image path must be a non-empty string, got {key!r}")
    why = None
    if "\x00" in key:
        why = "contains a NUL character"
    elif key.startswith(("/", "\\")) or _DRIVE.match(key):
        why = "is absolute"
    elif any(part in ("", ".", "..") for part in re.split(r"[/\\]", key)):
        why = "has an empty, '.' or '..' segment"
    if why:
        raise UnsafePathError(
            f"'{source}': image path {key[:200]!r} {why}; a project may only name files inside its images folder"
        )
    return key


def check_mask_name(name: object, source: object = "project") -> str:
    """``name`` if it is a plain file name for ``.symnet/masks/``, else raise UnsafePathError."""
    if not isinstance(name, str) or not name:
        raise UnsafePathError(f"'{source}': mask must be a non-empty file name, got {name!r}")
    if (
        "\x00" in name
        or "/" in name
        or "\\" in name
        or _DRIVE.match(name)
        or name.startswith(".")
        or len(name) > 255
    ):
        raise UnsafePathError(
            f"'{source}': mask {name[:200]!r} is not a plain file name inside .symnet/masks/ "
            "(no folders, no '..', no absolute path, not hidden)"
        )
    return name


def real_dir(path: Path) -> Path:
    """The real location of a folder the project owns (``.symnet``, ``.symnet/masks``).

    Raises:
        UnsafePathError: the folder is a symlink (its writes would land elsewhere).
    """
    if path.is_symlink():
        raise UnsafePathError(
            f"'{path}' is a symbolic link; the project's own folders must be real folders "
            "(replace the link by a copy of its target)"
        )
    return path.resolve()


def inside(base: Path, rel: str, what: str) -> Path:
    """``base / rel`` after checking that its real location (symlinks resolved) is inside ``base``.

    Args:
        base: the folder the file must be in (images root or masks folder), already resolved.
        rel: an already :func:`check_image_key`/:func:`check_mask_name`-checked relative name.
        what: words for the error (``"image"``, ``"mask"``).

    Returns:
        The non-resolved path ``base / rel`` (keeps the user's names in messages).

    Raises:
        UnsafePathError: a symlink on the way leads outside ``base``.
    """
    path = base / rel
    try:
        real = Path(os.path.realpath(path))
    except (OSError, RuntimeError, ValueError) as exc:  # symlink loop on some platforms
        raise UnsafePathError(f"{what} file '{path}' cannot be resolved ({exc})") from exc
    if real != base and base not in real.parents:
        raise UnsafePathError(
            f"{what} file '{path}' is a symbolic link to '{real}', outside '{base}'; refused "
            "(a project may only use files inside its own folders)"
        )
    return path
