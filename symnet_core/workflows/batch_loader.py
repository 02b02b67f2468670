"""Decoding propagation's batches of images in order, optionally ahead of the model on a thread pool."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from symnet_core.io.images import ImageReadError
from symnet_core.project import Project

__all__ = ["BatchLoader"]


class BatchLoader:
    """Decodes the batches in order; with workers, up to two batches ahead on a thread pool."""

    AHEAD = 2

    def __init__(self, project: Project, chunks: Sequence[Sequence[str]], max_side: int | None, workers: int) -> None:
        self.project, self.chunks, self.max_side = project, chunks, max_side
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="symnet-decode") if workers > 0 else None
        self.pending: deque[list[Future[tuple[str, Any, ImageReadError | None]]]] = deque()
        self.next_index = 0

    def _read(self, key: str) -> tuple[str, Any, ImageReadError | None]:
        try:
            return key, self.project.read_image(key, max_side=self.max_side), None
        except ImageReadError as exc:
            return key, None, exc

    def _submit(self) -> None:
        assert self.pool is not None
        while len(self.pending) < self.AHEAD and self.next_index < len(self.chunks):
            self.pending.append([self.pool.submit(self._read, k) for k in self.chunks[self.next_index]])
            self.next_index += 1

    def next_batch(self) -> list[tuple[str, Any, ImageReadError | None]]:
        if self.pool is None:
            chunk = self.chunks[self.next_index]
            self.next_index += 1
            return [self._read(k) for k in chunk]
        self._submit()
        futures = self.pending.popleft()
        self._submit()
        return [f.result() for f in futures]

    def __enter__(self) -> BatchLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
