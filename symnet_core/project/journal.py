"""Write-ahead journal: every change is durable at once, ``project.json`` is rewritten rarely.

Each mutation of a project appends one JSON line (the complete new state of the thing that
changed: an image record, the class table, the settings or a run) to ``.symnet/journal.jsonl``
and fsyncs it — a few hundred bytes, ~1 ms — instead of rewriting a multi-megabyte
``project.json``. Saving writes ``project.json`` atomically, then empties the journal. Opening
replays the journal over ``project.json``. Entries are idempotent upserts, so replaying an
entry that ``project.json`` already contains (crash between the two steps) is harmless, and a
torn last line (crash mid-append) is skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from symnet_core.project.atomic import write_hint
from symnet_core.project.errors import ProjectWriteError
from symnet_core.project.schema import loads_untrusted

__all__ = ["JOURNAL_FILE_NAME", "Journal", "read_journal"]

log = logging.getLogger(__name__)

JOURNAL_FILE_NAME = "journal.jsonl"


def read_journal(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All decodable entries, in order (undecodable lines are logged and skipped)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    entries = []
    lines = raw.split(b"\n")
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = loads_untrusted(line)
        except ValueError:
            last = i == len(lines) or (i == len(lines) - 1 and not lines[-1])
            log.warning("%s line %d is %s; skipped", path, i, "incomplete (interrupted write)" if last else "corrupt")
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


class Journal:
    """Append-only journal file held open while the project is open (one writer: the lock holder)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self.entries = 0  # appended since the last reset

    def open(self) -> None:
        try:
            # O_NOFOLLOW: a journal.jsonl symlinked elsewhere (a hostile project) is refused (ELOOP),
            # never appended to.
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
            self._fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise ProjectWriteError(self.path, exc, write_hint(exc)) from exc

    def append(self, entry: dict[str, Any]) -> None:
        """Append one entry durably; on failure, cut back any partial line and raise ProjectWriteError."""
        if self._fd is None:
            raise RuntimeError("journal is not open")
        data = (json.dumps(entry, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode()
        size = -1
        try:
            size = os.fstat(self._fd).st_size
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            os.fsync(self._fd)
        except OSError as exc:
            if size >= 0:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, size)
            raise ProjectWriteError(
                self.path, exc, write_hint(exc) + "; the change is kept in memory until the next save"
            ) from exc
        self.entries += 1

    def reset(self) -> None:
        """Empty the journal (after ``project.json`` was written successfully)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
        except OSError as exc:  # harmless: replaying idempotent entries gives the same state
            log.warning("could not empty %s: %s", self.path, exc)
            return
        self.entries = 0

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
