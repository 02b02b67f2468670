"""An exclusive, crash-proof lock on a project folder.

The lock is an OS lock on ``.symnet/lock`` taken with the ``filelock`` library (``flock`` on POSIX,
``LockFileEx`` on Windows, a marker-file fallback on file systems without ``flock``), held for as
long as the project is open. The operating system drops it when the process dies — even on
``kill -9`` or a power cut — so a crash can never leave a project locked.

Who holds it (pid, host, user, start time) is written, atomically, to ``.symnet/lock.holder.json``
right after the lock is taken and removed on release; it only serves messages: who holds the lock,
or whose stale lock is being taken over (the file is left behind only by a process that died). It is
a separate file because the lock file's content belongs to ``filelock``.

The lock file itself is never deleted (deleting a locked file lets two processes "hold" different
inodes).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from symnet_core.project.atomic import atomic_write_bytes
from symnet_core.project.errors import ProjectLockedError, ProjectWriteError

if TYPE_CHECKING:
    import filelock

__all__ = ["HOLDER_FILE_NAME", "LOCK_FILE_NAME", "ProjectLock", "describe_holder", "pid_alive"]

log = logging.getLogger(__name__)

LOCK_FILE_NAME = "lock"
HOLDER_FILE_NAME = "lock.holder.json"


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
        self.holder_path = Path(project_dir) / HOLDER_FILE_NAME
        self._lock: filelock.BaseFileLock | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    def _read_info(self) -> dict[str, Any]:
        try:
            raw = self.holder_path.read_bytes()
            info = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            return info if isinstance(info, dict) else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        """Take the lock or raise :class:`ProjectLockedError` naming the holder.

        A lock left by a dead process is taken over with a warning. Raises
        :class:`ProjectWriteError` when the lock file cannot be created (read-only folder).
        """
        if self._lock is not None:
            raise RuntimeError("lock already held by this object")
        import filelock  # ~0.1 s to import: only when a project is opened for writing, not at GUI start

        lock = filelock.FileLock(self.path, timeout=0, thread_local=False)
        try:
            lock.acquire()
        except filelock.Timeout:
            previous = self._read_info()
            same = previous.get("pid") == os.getpid() and previous.get("host") == socket.gethostname()
            where = "this process" if same else describe_holder(previous)
            raise ProjectLockedError(
                f"the project of '{_folder(self.path)}' is already open in {where}; close it there first",
                previous,
            ) from None
        except OSError as exc:
            raise ProjectWriteError(self.path, exc, "Cannot create the project's lock file") from exc
        previous = self._read_info()
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
            atomic_write_bytes(self.holder_path, json.dumps(info).encode("utf-8"))
        except OSError as exc:  # info is only for messages: a full disk must not block opening
            log.warning("could not write lock holder info to %s: %s", self.holder_path, exc)
        self._lock = lock

    def release(self) -> None:
        """Release the lock (idempotent). The lock file stays; the holder file is removed."""
        lock, self._lock = self._lock, None
        if lock is None:
            return
        try:
            with contextlib.suppress(OSError):
                self.holder_path.unlink(missing_ok=True)
        finally:
            lock.release(force=True)

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
