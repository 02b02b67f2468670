"""What every headless command shares: exit codes, the usage error, progress lines, Ctrl+C handling,
opening a project and loading a model from the command-line options."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

log = logging.getLogger("symnet_annotate")

# Read by OpenMP when torch loads it, so it must be set before: the CLI modules import this
# module first and torch only inside the commands. A value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad arguments or unusable input: printed without a traceback, exit code 2."""


def could_not_run(exc: BaseException) -> str | None:
    """The one-line message for an error that means "the command could not run" (exit 2), or
    None for an unexpected error (a bug: the caller lets its traceback show).

    Project errors (locked, damaged, unsafe paths, failed writes such as a full disk) and OS
    errors name their file and what to do; nothing already saved is lost when they happen (the
    journal and atomic writes guarantee it).
    """
    from symnet_core.io.images import ImageReadError
    from symnet_core.project import ProjectError

    if isinstance(exc, (UsageError, ProjectError, ImageReadError)):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory (try a smaller --max-side or --batch-size)"
    if isinstance(exc, OSError):
        import errno

        where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
        hint = {
            errno.ENOSPC: "the disk is full: free some space and run the command again",
            errno.EDQUOT: "the disk quota is exceeded: free some space and run the command again",
            errno.EACCES: "permission denied: check that the folder is writable/readable by you",
            errno.EROFS: "the file system is read-only: choose another output folder",
        }.get(exc.errno or -1, "check the file and run the command again")
        return f"{exc.strerror or exc}:{where or ' (no file named)'}; {hint}; everything written before is kept"
    return None


def close_project(project) -> None:
    """Close after a run: save, and when saving fails (full disk...) release the lock anyway,
    since the journal already holds every change (the next open replays it)."""
    from symnet_core.project import ProjectWriteError

    try:
        project.close()
    except ProjectWriteError as exc:
        log.error("%s; the journal keeps every change until the next open", exc)
        project.close(save=False)


class ProgressLine:
    """Progress of a headless command on stderr, as ``progress(done, total, item)`` callbacks.

    On a terminal: a ``tqdm`` bar redrawn in place. Otherwise (a log file, CI): one plain line every
    ``interval`` seconds and one at the end, in tqdm's words (``propagate:  40% 4/10 [00:02<00:03,
    2.00img/s, a.jpg]``). ``quiet=True`` (``--quiet``) prints nothing.
    """

    def __init__(self, label: str, stream: TextIO | None = None, *, quiet: bool = False,
                 interval: float = 5.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.interval = interval
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.start = time.monotonic()
        self.last = float("-inf")
        self._bar: tqdm | None = None

    def __call__(self, done: int, total: int | None, item: str = "") -> None:
        if self.quiet:
            return
        finished = total is not None and done >= total
        if self.tty:
            self._draw_bar(done, total, item, finished)
            return
        now = time.monotonic()
        if not finished and now - self.last < self.interval:
            return
        self.last = now
        text = tqdm.format_meter(done, total, now - self.start, ncols=0, prefix=self.label, unit="img",
                                 postfix=item or None)
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw_bar(self, done: int, total: int | None, item: str, finished: bool) -> None:
        if self._bar is None:
            self._bar = tqdm(total=total, desc=self.label, unit="img", file=self.stream, dynamic_ncols=True,
                             leave=True)
        bar = self._bar
        if total != bar.total:
            bar.total = total
        if item:
            bar.set_postfix_str(item, refresh=False)
        bar.update(done - bar.n)
        if finished:
            bar.close()
            self._bar = None


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


def _resolve_named_model(args: argparse.Namespace, project_settings: dict | None):
    """(checkpoint path, registry entry or None) from --model, --checkpoint or the project's settings."""
    from symnet_core.weights import ModelManager, RegistryError

    name = getattr(args, "model", None)
    if name and args.checkpoint:
        raise UsageError("pass either --model NAME or --checkpoint FILE, not both")
    if not name and not args.checkpoint:
        name = (project_settings or {}).get("model")
    if not name:
        return None, None
    manager = ModelManager(getattr(args, "models_dir", None))
    try:
        entry = manager.registry.require(str(name))
        if entry.kind != "checkpoint":
            raise UsageError(f"{name!r} is a {entry.kind}, not a checkpoint")
        return str(manager.path_of(entry.name)), entry
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc


def _registered_word2vec(args: argparse.Namespace, dataset: str | None) -> str | None:
    from symnet_core.weights import ModelManager

    if dataset not in ("pascal", "coco"):
        return None
    manager = ModelManager(getattr(args, "models_dir", None))
    entry = manager.registry.find_word2vec(dataset)
    return str(manager.registry.file_of(entry)) if entry is not None else None


def load_model(args: argparse.Namespace, project_settings: dict | None = None, class_names=()):
    """Load --model / --checkpoint / the project's model / the demo model. For each of ``class_names``
    that is a base class of the model (PASCAL-5i/COCO-20i fold lists), print a meta-only suggestion."""
    from symnet_core.inference.loading import default_checkpoint, load_predictor
    from symnet_core.inference.text_embeddings import TextEncoderUnavailable
    from symnet_core.model.checkpoints import CheckpointError

    log.debug("torch threads: %d", set_threads(getattr(args, "threads", None)))
    named, entry = _resolve_named_model(args, project_settings)
    ckpt = named or args.checkpoint or (project_settings or {}).get("checkpoint") or default_checkpoint()
    if not ckpt:
        raise UsageError("no model: pass --model NAME (see `symnet-annotate models list`) or --checkpoint FILE")
    word2vec = args.word2vec
    if word2vec is None and entry is not None and entry.text_embedding.get("kind") == "word2vec":
        word2vec = _registered_word2vec(args, entry.text_embedding.get("dataset") or entry.dataset)
    try:
        loaded = load_predictor(
            ckpt, device=args.device, threshold=args.threshold, meta_only=args.meta_only,
            word2vec=word2vec, allow_download=args.allow_download, resize=args.resize,
        )
    except (CheckpointError, TextEncoderUnavailable, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    log.info("model: %s", loaded.description)
    base = tuple(entry.base_classes) if entry is not None else ()
    base = base or tuple(getattr(getattr(loaded.predictor.model, "checkpoint_info", None), "base_classes", ()))
    if not args.meta_only and base:
        from symnet_core.weights.folds import is_base_class

        for cname in class_names:
            if is_base_class(cname, base):
                print(f"note: '{cname}' is one of this model's base classes; --meta-only (ignore the base "  # noqa: T201
                      "learner) is the usual choice for classes the model was trained on", file=sys.stderr)
    return loaded


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", help="model file (default: the project's model, else the bundled demo model)")
    p.add_argument("--model", metavar="NAME", help="an installed model (symnet-annotate models list)")
    p.add_argument("--models-dir", help="models folder for --model (default: $SYMNET_MODELS_DIR or the user data dir)")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--threshold", type=float, default=0.5, help="foreground probability threshold (0.5 = argmax)")
    p.add_argument("--meta-only", action="store_true", help="ignore the base learner (for base classes, spec §7)")
    p.add_argument("--word2vec", help="the authors' word2vec_<dataset>.pkl for their checkpoints")
    p.add_argument("--allow-download", action="store_true", help="allow downloading CLIP text weights")
    p.add_argument("--resize", choices=("fit", "shrink-only"), default=None,
                   help="letterbox resize: fit = the authors' evaluation (every image's longer side scaled to "
                        "the model input; default for their checkpoints), shrink-only = never enlarge small "
                        "images (default: what the checkpoint was evaluated with; see docs/inference.md)")
    p.add_argument("--max-side", type=int, default=1024, help="decode images with their long side ≤ this")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or info lines (errors still print)")
    p.add_argument("--batch-size", type=int, default=1,
                   help="images per forward pass (worth it on a GPU); results are still saved one by one")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for the model (default: physical cores, see set_threads)")


def physical_cores() -> int:
    """Physical CPU cores available to this process (Linux: distinct cores in the affinity mask,
    from sysfs topology; elsewhere: ``os.cpu_count()``)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cores = set()
    for cpu in cpus:
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/core_cpus_list", encoding="ascii") as f:
                cores.add(f.read().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores) if cores else (os.cpu_count() or 1))


def set_threads(n: int | None) -> int:
    """Threads for torch's CPU kernels: ``n``, else the physical cores. Returns the count used.

    ``OMP_WAIT_POLICY=PASSIVE`` is set when this module is imported (before torch loads OpenMP),
    as the GUI worker does: spinning OpenMP threads made throughput fall ~40x when another
    process held a core."""
    if n is not None and n < 1:
        raise UsageError(f"--threads must be >= 1, got {n}")
    count = n or physical_cores()
    import torch

    torch.set_num_threads(count)
    return count


