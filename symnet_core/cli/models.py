"""``symnet-annotate models``: list, add, get, info, verify and remove model files.

The models folder is ``--models-dir``, else ``$SYMNET_MODELS_DIR``, else the user data dir + ``/models``
(docs/models.md). ``propagate``/``adapt`` then take ``--model NAME``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from symnet_core.cli.common import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, UsageError, interrupt_sets


def register(sub) -> None:
    p = sub.add_parser("models", help="list, download, verify and remove models (docs/models.md)")
    p.add_argument("--models-dir", help="models folder (default: $SYMNET_MODELS_DIR, else the user data dir)")
    msub = p.add_subparsers(dest="models_command", required=True)
    ls = msub.add_parser("list", help="installed models and the catalogue")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    add = msub.add_parser("add", help="install a file, URL, hf://owner/repo/path or gdrive://ID")
    add.add_argument("source")
    add.add_argument("--name", help="registry name (default: the file name without extension)")
    add.add_argument("--sha256", help="expected sha256 (hex); without it the hash is recorded at download")
    add.add_argument("--dataset", choices=("pascal", "coco"), help="training data, when the file does not say")
    add.add_argument("--fold", type=int, choices=range(4), help="PASCAL-5i/COCO-20i fold, when the file does not say")
    get = msub.add_parser("get", help="install a catalogue entry (see `models list`)")
    get.add_argument("catalogue_name")
    get.add_argument("--file", help="for a folder entry: the file (path or id) to install; omit to list them")
    get.add_argument("--name", help="registry name")
    get.add_argument("--fold", type=int, choices=range(4), help="fold, when the file path does not say")
    info = msub.add_parser("info", help="everything recorded about an installed model")
    info.add_argument("name")
    info.add_argument("--json", action="store_true")
    ver = msub.add_parser("verify", help="re-hash installed files against the registry")
    ver.add_argument("name", nargs="?")
    rm = msub.add_parser("remove", help="delete an installed model and its file")
    rm.add_argument("name")
    p.set_defaults(run=run)


class _Bar:
    """Download progress on stderr: MB done/total, rate, ETA (in place on a terminal, every 2 s otherwise)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < 2.0 and not (p.total and p.done >= p.total):
            return
        self.last = now
        text = "download " + p.describe()
        sys.stderr.write(("\r" + text.ljust(70)) if self.tty else text + "\n")
        sys.stderr.flush()


def _errors():
    from symnet_core.cancel import OperationCancelled
    from symnet_core.project import ProjectWriteError
    from symnet_core.weights.download import DownloadError
    from symnet_core.weights.registry import RegistryError
    from symnet_core.weights.validate import ValidationError

    return (DownloadError, RegistryError, ValidationError, ProjectWriteError, OSError), OperationCancelled


def _size(n: int | None) -> str:
    return "?" if n is None else (f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB")


def run(args: argparse.Namespace) -> int:
    from symnet_core.weights import CATALOGUE, ModelManager

    manager = ModelManager(args.models_dir)
    errors, cancelled = _errors()
    cmd = args.models_command
    try:
        if cmd == "list":
            return _list(manager, CATALOGUE, args.json)
        if cmd == "info":
            entry = manager.registry.require(args.name)
            data = {**entry.to_json(), "path": str(manager.registry.file_of(entry))}
            if args.json:
                print(json.dumps(data, indent=1))  # noqa: T201
            else:
                for k, v in data.items():
                    print(f"{k}: {v}")  # noqa: T201
                if not entry.sha256_pinned:
                    print("note: sha256 recorded at first download (no published hash to check against)")  # noqa: T201
            return EXIT_OK
        if cmd == "verify":
            results = manager.verify(args.name)
            for r in results:
                print(f"{'ok  ' if r.ok else 'FAIL'} {r.name}: {r.message}")  # noqa: T201
            return EXIT_OK if all(r.ok for r in results) else EXIT_PARTIAL
        if cmd == "remove":
            entry = manager.remove(args.name)
            print(f"removed {entry.name} ({manager.directory / entry.file})")  # noqa: T201
            return EXIT_OK
        cancel = threading.Event()
        bar = _Bar()
        with interrupt_sets(cancel):
            if cmd == "add":
                entry = manager.add(args.source, name=args.name, sha256=args.sha256, dataset=args.dataset,
                                    fold=args.fold, progress=bar, cancel=cancel)
            else:
                from symnet_core.weights.catalogue import lookup

                cat = lookup(args.catalogue_name)
                if cat is not None and cat.kind == "folder" and not args.file:
                    files = manager.list_folder(args.catalogue_name)
                    print(f"{args.catalogue_name}: {len(files)} files; install one with --file PATH:")  # noqa: T201
                    for fid, path in files:
                        print(f"  {path}    (id {fid})")  # noqa: T201
                    return EXIT_OK
                entry = manager.get(args.catalogue_name, file=args.file, name=args.name, progress=bar, cancel=cancel,
                                    **({"fold": args.fold} if args.fold is not None else {}))
        if bar.tty:
            sys.stderr.write("\n")
        print(f"installed {entry.name}: {entry.summary()}")  # noqa: T201
        print(f"  file {manager.directory / entry.file}, {_size(entry.size)}, sha256 {entry.sha256}"  # noqa: T201
              + ("" if entry.sha256_pinned else " (recorded now: no published hash)"))
        return EXIT_OK
    except cancelled:
        print("cancelled: nothing was installed", file=sys.stderr)  # noqa: T201
        return EXIT_INTERRUPTED
    except errors as exc:
        raise UsageError(str(exc)) from exc


def _list(manager, catalogue, as_json: bool) -> int:
    installed = manager.registry.entries()
    if as_json:
        print(json.dumps({  # noqa: T201
            "models_dir": str(manager.directory),
            "installed": [e.to_json() for e in installed],
            "catalogue": [{"name": c.name, "kind": c.kind, "title": c.title, "source": c.source,
                           "sha256": c.sha256, "size": c.size, "license": c.license,
                           "installed": any(e.source == c.source for e in installed)} for c in catalogue],
        }, indent=1))
        return EXIT_OK
    print(f"models folder: {manager.directory}")  # noqa: T201
    print("installed:" if installed else "installed: none")  # noqa: T201
    for e in installed:
        print(f"  {e.name:28s} {_size(e.size):>9s}  {e.summary()}")  # noqa: T201
    print("catalogue (symnet-annotate models get NAME):")  # noqa: T201
    for c in catalogue:
        print(f"  {c.name:28s} {_size(c.size):>9s}  {c.title}")  # noqa: T201
    return EXIT_OK
