"""Exceptions of the project store. Every message names the file or project involved."""

from __future__ import annotations

import os

__all__ = [
    "ProjectError",
    "ProjectExistsError",
    "ProjectFormatError",
    "ProjectLockedError",
    "ProjectNotFoundError",
    "ProjectVersionError",
    "ProjectWriteError",
]


class ProjectError(Exception):
    """Base class of every project-store error."""


class ProjectNotFoundError(ProjectError, FileNotFoundError):
    """No project exists where one was expected."""


class ProjectExistsError(ProjectError, FileExistsError):
    """``Project.create`` found a project already there."""


class ProjectFormatError(ProjectError, ValueError):
    """``project.json`` (or a mask file) is malformed. Nothing was overwritten."""


class ProjectVersionError(ProjectError):
    """The project was written by a newer schema than this app understands."""


class ProjectLockedError(ProjectError):
    """Another live process holds the project's lock.

    Attributes:
        holder: what the lock file says about the holder (pid, host, user, started), possibly
            empty when the holder had not written it yet.
    """

    def __init__(self, message: str, holder: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.holder = dict(holder or {})


class ProjectWriteError(ProjectError, OSError):
    """Writing a project file failed. The previous version of the file is intact.

    Attributes:
        path: the file that could not be written.
        errno: the OS error number when known (``errno.ENOSPC`` for a full disk...).
    """

    def __init__(self, path: str | os.PathLike[str], cause: BaseException, hint: str = "") -> None:
        self.path = os.fspath(path)
        err = getattr(cause, "errno", None)
        text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        msg = f"could not write '{self.path}': {text}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)
        # OSError's own attributes, so `except OSError as e: e.errno` keeps working.
        self.errno = err
        self.strerror = text
        self.filename = self.path

    def __str__(self) -> str:
        # OSError.__str__ would rebuild "[Errno n] ..." from the attributes; keep our message.
        return str(self.args[0])
