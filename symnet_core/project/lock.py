"""An exclusive, crash-proof lock on a project folder.

The lock is an OS lock on ``.symnet/lock`` (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on
Windows), held for as long as the project is open. The operating system drops it when the
process dies — even on ``kill -9`` or a power cut — so a crash can never leave a project locked.
The file's *content* (pid, host, user, start time) only serves messages: who holds the lock, or
whose stale lock is being taken over.

The lock file is never deleted (deleting a flock-ed file lets two processes "hold" different
inodes); an empty file means "not held".
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import getpass
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from symnet_core.project.errors import ProjectLockedError, ProjectWriteError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE_NAME", "ProjectLock", "describe_holder", "pid_alive"]

log = logging.getLogger(__name__)

LOCK_FILE_NAME = "lock"
_WIN_LOCK_OFFSET = 1 << 30  # lock a byte far past the text, so readers can still read it


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (POSIX; True when unknown)."""
    if os.name != "posix":
        return True  # never os.kill on Windows: signal 0 there is CTRL_C_EVENT
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists but belongs to someone else
        return True
    return True


def describe_holder(info: dict[str, Any]) -> str:
    """``"pid 123 (alice@host, since 2025-01-01T10:00:00Z)"`` or ``"an unknown process"``."""
    if not info.get("pid"):
        return "an unknown process"
    who = f"{info.get('user', '?')}@{info.get('host', '?')}"
    return f"pid {info['pid']} ({who}, since {info.get('started', '?')})"


class ProjectLock:
    """Exclusive lock on one project folder. Use :meth:`acquire` / :meth:`release`, or ``with``.

    Not re-entrant: opening the same project twice, even in one process, is refused.
    """

    def __init__(self, project_dir: str | os.PathLike[str]) -> None:
        self.path = Path(project_dir) / LOCK_FILE_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _read_info(self, fd: int) -> dict[str, Any]:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            raw = os.read(fd, 4096)
            info = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            return info if isinstance(info, dict) else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        """Take the lock or raise :class:`ProjectLockedError` naming the holder.

        A lock file left by a dead process is taken over with a warning. Raises
        :class:`ProjectWriteError` when the lock file cannot be created (read-only folder).
        """
        if self._fd is not None:
            raise RuntimeError("lock already held by this object")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as exc:
            raise ProjectWriteError(self.path, exc, "Cannot create the project's lock file") from exc
        try:
            locked = _try_lock(fd)
        except OSError:
            os.close(fd)
            raise
        previous = self._read_info(fd)
        if not locked:
            os.close(fd)
            same = previous.get("pid") == os.getpid() and previous.get("host") == socket.gethostname()
            where = "this process" if same else describe_holder(previous)
            raise ProjectLockedError(
                f"the project of '{_folder(self.path)}' is already open in {where}; close it there first",
                previous,
            )
        if previous.get("pid"):
            # The OS lock was free, so whoever wrote this is gone (crash or kill).
            on_this_host = previous.get("host") == socket.gethostname()
            state = "dead" if on_this_host and not pid_alive(int(previous["pid"])) else "no longer holding it"
            log.warning(
                "taking over the stale lock on '%s' left by %s (%s)",
                _folder(self.path),
                describe_holder(previous),
                state,
            )
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": _user(),
            "started": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode("utf-8"))
            os.fsync(fd)
        except OSError as exc:  # info is only for messages: a full disk must not block opening
            log.warning("could not write lock info to %s: %s", self.path, exc)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (idempotent). The file stays, emptied."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:  # the OS would release it at exit anyway; be tidy earlier
        with contextlib.suppress(Exception):
            self.release()


def _folder(lock_path: Path) -> Path:
    """The images folder a lock file belongs to (``<root>/.symnet/lock`` -> ``<root>``)."""
    pdir = lock_path.parent
    return pdir.parent if pdir.name == ".symnet" else pdir


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers) is not an error
        return "?"


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                return False
            raise
        return True
    if msvcrt is not None:  # pragma: no cover - Windows
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    log.warning("no OS file locking on this platform: the project is not protected against a second writer")
    return True  # pragma: no cover


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    elif msvcrt is not None:  # pragma: no cover - Windows
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
