"""What every headless command shares: exit codes, the usage error, progress lines, Ctrl+C handling,
opening a project and loading a model from the command-line options."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("symnet_annotate")

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad arguments or unusable input: printed without a traceback, exit code 2."""


class ProgressLine:
    """A tqdm-style progress line on stderr (redrawn in place on a terminal, every 5 s otherwise)."""

    def __init__(self, label: str, stream=None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int | None, item: str = "") -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if not self.tty and not finished and now - self.last < 5.0:
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        if total:
            eta = (total - done) / rate if rate > 0 else float("nan")
            eta_s = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta == eta else "--:--:--"
            text = f"{self.label} {done}/{total} {100 * done / total:5.1f}% {rate:.2f} img/s ETA {eta_s} {item}"
        else:
            text = f"{self.label} {done} {rate:.2f} img/s {item}"
        if self.tty:
            self.stream.write("\r" + text[:160].ljust(160))
            if finished:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


@contextmanager
def interrupt_sets(event: threading.Event) -> Iterator[None]:
    """Make Ctrl+C (and SIGTERM) set ``event`` instead of raising, so loops stop between images."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if event.is_set():  # second Ctrl+C: stop hard
            raise KeyboardInterrupt
        log.warning("interrupted: finishing the current image, then stopping (Ctrl+C again to abort)")
        event.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def open_project(path: str, *, read_only: bool = False):
    from symnet_core.project import Project, ProjectError

    try:
        return Project.open(path, read_only=read_only)
    except ProjectError as exc:
        raise UsageError(str(exc)) from exc


def load_model(args: argparse.Namespace, project_settings: dict | None = None):
    from symnet_core.inference.loading import default_checkpoint, load_predictor
    from symnet_core.inference.text import TextEncoderUnavailable
    from symnet_core.model.checkpoints import CheckpointError

    ckpt = args.checkpoint or (project_settings or {}).get("checkpoint") or default_checkpoint()
    if not ckpt:
        raise UsageError("no model: pass --checkpoint FILE (an authors' checkpoint or one from symnet-train)")
    try:
        loaded = load_predictor(
            ckpt, device=args.device, threshold=args.threshold, meta_only=args.meta_only,
            word2vec=args.word2vec, allow_download=args.allow_download,
        )
    except (CheckpointError, TextEncoderUnavailable, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    log.info("model: %s", loaded.description)
    return loaded


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", help="model file (default: the project's model, else the bundled demo model)")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--threshold", type=float, default=0.5, help="foreground probability threshold (0.5 = argmax)")
    p.add_argument("--meta-only", action="store_true", help="ignore the base learner (for classes seen in training)")
    p.add_argument("--word2vec", help="the authors' word2vec_<dataset>.pkl for their checkpoints")
    p.add_argument("--allow-download", action="store_true", help="allow downloading CLIP text weights")
    p.add_argument("--max-side", type=int, default=1024, help="decode images with their long side ≤ this")
    p.add_argument("--batch-size", type=int, default=1,
                   help="images per forward pass (worth it on a GPU); results are still saved one by one")


