"""Reading a project from disk and reconciling it with the image folder (used by ``Project.open``).

Nothing here decodes an image: opening a folder of 10,000 images costs one directory walk,
one JSON parse and one listing of ``masks/``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

from symnet_core.io.images import list_images, natural_key
from symnet_core.project.atomic import atomic_write_bytes, remove_stale_temps
from symnet_core.project.errors import ProjectFormatError, ProjectNotFoundError
from symnet_core.project.journal import JOURNAL_FILE_NAME, read_journal
from symnet_core.project.migrations import migrate
from symnet_core.project.schema import (
    MASKS_DIR_NAME,
    MAX_CLASS_ID,
    PROJECT_DIR_NAME,
    PROJECT_FILE_NAME,
    SCHEMA_VERSION,
    ImageRecord,
    ProjectState,
    class_from_dict,
    image_from_dict,
    loads_untrusted,
    normalize_key,
    parse_project,
    run_from_dict,
)

__all__ = ["apply_journal", "load_locked", "load_snapshot", "locate", "mask_is_missing", "read_state", "reconcile"]

log = logging.getLogger(__name__)

_MISSING_MASK = "mask file missing: "


def locate(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(images_root, project_dir)`` for an images folder or its ``.symnet`` folder."""
    p = Path(path).expanduser().resolve()
    if p.name == PROJECT_DIR_NAME:
        return p.parent, p
    return p, p / PROJECT_DIR_NAME


def read_state(project_file: Path) -> tuple[ProjectState, int]:
    """Parse (and migrate) ``project.json``. Returns ``(state, schema version found on disk)``."""
    try:
        raw = project_file.read_bytes()
    except FileNotFoundError:
        raise ProjectNotFoundError(f"no project in '{project_file.parent.parent}' ({project_file} not found)") from None
    except OSError as exc:
        raise ProjectFormatError(f"cannot read '{project_file}': {exc}") from exc
    try:
        data = loads_untrusted(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProjectFormatError(
            f"'{project_file}' is damaged and was not modified ({exc}); restore it from a backup "
            f"or move it away to start a new project (masks in the folder next to it are kept)"
        ) from exc
    data, found = migrate(data, project_file)
    return parse_project(data, project_file), found


def apply_journal(st: ProjectState, journal_file: Path) -> int:
    """Replay journal entries over ``st``; returns how many were applied."""
    n = 0
    for e in read_journal(journal_file):
        op = e.get("op")
        try:
            if op == "image":
                rec = image_from_dict(e["record"], journal_file)
                st.images[normalize_key(rec.path)] = rec
            elif op == "classes":
                st.classes = {c.id: c for c in (class_from_dict(d, journal_file) for d in e["classes"])}
                nxt = e["next_class_id"]
                if not isinstance(nxt, int) or not 1 <= nxt <= MAX_CLASS_ID + 1:
                    raise ValueError(f"next_class_id {str(nxt)[:40]} outside 1..{MAX_CLASS_ID + 1}")
                st.next_class_id = max(nxt, st.next_class_id)
            elif op == "settings":
                if not isinstance(e["settings"], dict):
                    raise TypeError("settings must be an object")
                st.settings = dict(e["settings"])
            elif op == "run":
                run = run_from_dict(e["run"], journal_file)
                st.runs = [r for r in st.runs if r.id != run.id] + [run]
            else:
                log.warning("%s: unknown entry %r skipped", journal_file, op)
                continue
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("%s: bad entry skipped (%s)", journal_file, exc)
            continue
        n += 1
    return n


def reconcile(st: ProjectState, images_root: Path, masks_dir: Path) -> bool:
    """Match records to the files on disk; returns True when ``st`` changed.

    New image files get an ``unlabelled`` record (size unknown: filled lazily). Records whose
    file disappeared are kept, flagged ``missing``, and their masks are never touched. A record
    whose mask file is gone gets an ``error`` (and reads as no mask) instead of failing later.
    """
    changed = False
    on_disk = {normalize_key(p): p for p in list_images(images_root)}
    try:
        mask_files = {e.name for e in os.scandir(masks_dir)}
    except FileNotFoundError:
        mask_files = set()
    for key, rec in list(st.images.items()):
        new = rec
        actual = on_disk.get(key)
        if actual is None and not rec.missing:
            new = replace(new, missing=True)
            log.warning("image file missing: %s (its record and mask are kept)", rec.path)
        elif actual is not None and (rec.missing or actual != rec.path):
            new = replace(new, missing=False, path=actual)
        if rec.mask and rec.mask not in mask_files:
            if new.error != _MISSING_MASK + rec.mask:
                log.error("mask file of %s is missing: %s", rec.path, masks_dir / rec.mask)
                new = replace(new, error=_MISSING_MASK + rec.mask)
        elif new.error and new.error.startswith(_MISSING_MASK):
            new = replace(new, error=None)
        if new is not rec:
            st.images[key] = new
            changed = True
    added = [p for k, p in on_disk.items() if k not in st.images]
    for p in added:
        st.images[normalize_key(p)] = ImageRecord(path=p)
    if added:
        log.info("%d new image(s) in %s", len(added), images_root)
        changed = True
    order = sorted(st.images, key=lambda k: natural_key(st.images[k].path))
    if order != list(st.images):
        st.images = {k: st.images[k] for k in order}
        changed = True
    return changed


def mask_is_missing(rec: ImageRecord) -> bool:
    return bool(rec.error and rec.error.startswith(_MISSING_MASK))


def load_snapshot(root: Path, pdir: Path) -> ProjectState:
    """State for a read-only open: nothing is written, no lock is taken."""
    st, _ = read_state(pdir / PROJECT_FILE_NAME)
    apply_journal(st, pdir / JOURNAL_FILE_NAME)
    reconcile(st, root, pdir / MASKS_DIR_NAME)
    return st


def load_locked(root: Path, pdir: Path) -> tuple[ProjectState, bool]:
    """State for a writable open (the caller holds the lock). Returns ``(state, needs_save)``.

    Removes temporary files of interrupted writes, migrates an older schema (keeping
    ``project.v<N>.json.bak``), replays the journal and reconciles with the folder.
    """
    pfile = pdir / PROJECT_FILE_NAME
    remove_stale_temps(pdir)
    remove_stale_temps(pdir / MASKS_DIR_NAME)
    st, found = read_state(pfile)
    if found != SCHEMA_VERSION:
        backup = pdir / f"project.v{found}.json.bak"
        atomic_write_bytes(backup, pfile.read_bytes())
        log.warning("migrated %s from schema %d to %d (original kept as %s)", pfile, found, SCHEMA_VERSION, backup.name)
    (pdir / MASKS_DIR_NAME).mkdir(exist_ok=True)
    replayed = apply_journal(st, pdir / JOURNAL_FILE_NAME)
    if replayed:
        log.info("recovered %d change(s) from the journal of %s", replayed, pdir)
    changed = reconcile(st, root, pdir / MASKS_DIR_NAME)
    return st, bool(changed or replayed or found != SCHEMA_VERSION)
