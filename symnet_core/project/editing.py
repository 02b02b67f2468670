"""Mutations of a project: classes, masks, statuses, settings, runs (``Project`` delegates here).

An :class:`Editor` holds the project's shared state (:class:`~symnet_core.project.core.ProjectCore`)
and its image-file reader; see ``store.py`` for the durability and
threading rules that every method here follows (mutex held, journal appended, mask PNGs
written atomically before the record changes).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from symnet_core.project.atomic import atomic_write_bytes
from symnet_core.project.core import ProjectCore
from symnet_core.project.errors import ProjectFormatError
from symnet_core.project.images import ImageFiles
from symnet_core.project.loading import mask_is_missing
from symnet_core.project.masks import decode_mask, encode_mask, present_ids
from symnet_core.project.schema import (
    DEFAULT_COLORS,
    MAX_CLASS_ID,
    ClassRecord,
    ImageRecord,
    RunRecord,
    class_to_dict,
    mask_file_name,
    normalize_color,
    now_iso,
    run_to_dict,
)
from symnet_core.project.status import PROPAGATION_WRITABLE, ImageStatus

__all__ = ["Editor"]

log = logging.getLogger(__name__)

_MAX_RUNS_KEPT = 50


class Editor:
    """Write API of one open project (``core``: its shared state; ``files``: its image reader)."""

    def __init__(self, core: ProjectCore, files: ImageFiles) -> None:
        self._p = core
        self._files = files

    # --- classes -------------------------------------------------------------------------

    def add_class(self, name: str, color: str | None = None, *, class_id: int | None = None) -> ClassRecord:
        """Add a class; its id (next unused integer >= 1) is never reused, even after removal.

        ``class_id`` asks for a given id (an import keeping a file's ids): allowed when no class
        ever had it (``>= next_class_id``), up to ``MAX_CLASS_ID``.

        Raises:
            ValueError: empty name, a name already used (case-insensitive), a bad colour, an id
                that is taken, was used before or is out of range.
        """
        with self._p._mutex:
            self._p._check_writable()
            name = self._check_class_name(name)
            st = self._p._st
            cid = st.next_class_id if class_id is None else int(class_id)
            if class_id is not None and not st.next_class_id <= cid <= MAX_CLASS_ID:
                raise ValueError(f"class id {cid} is taken or was used before (free ids: {st.next_class_id}.."
                                 f"{MAX_CLASS_ID})")
            if cid > MAX_CLASS_ID:
                raise ValueError(f"no class id left: ids are 1..{MAX_CLASS_ID} and never reused")
            color = normalize_color(color) if color else DEFAULT_COLORS[(cid - 1) % len(DEFAULT_COLORS)]
            rec = ClassRecord(cid, name, color)
            st.classes[cid] = rec
            st.next_class_id = cid + 1
            self._journal_classes()
            return rec

    def rename_class(self, class_id: int, name: str) -> ClassRecord:
        """Rename (the name is Sym-Net's text prompt, so predictions may change)."""
        with self._p._mutex:
            self._p._check_writable()
            old = self._p.class_by_id(class_id)
            new = replace(old, name=self._check_class_name(name, ignore=class_id))
            self._p._st.classes[class_id] = new
            self._journal_classes()
            return new

    def recolor_class(self, class_id: int, color: str) -> ClassRecord:
        with self._p._mutex:
            self._p._check_writable()
            new = replace(self._p.class_by_id(class_id), color=normalize_color(color))
            self._p._st.classes[class_id] = new
            self._journal_classes()
            return new

    def remove_class(self, class_id: int) -> ClassRecord:
        """Remove a class. O(1): mask files are not rewritten; pixels of a removed class read
        as background from :meth:`get_mask` (and its id is never given to another class)."""
        with self._p._mutex:
            self._p._check_writable()
            rec = self._p.class_by_id(class_id)
            del self._p._st.classes[class_id]
            self._journal_classes()
            return rec

    def _check_class_name(self, name: str, ignore: int | None = None) -> str:
        clean = str(name).strip()
        if not clean:
            raise ValueError("a class name cannot be empty")
        other = self._p.class_by_name(clean)
        if other is not None and other.id != ignore:
            raise ValueError(f"a class named '{other.name}' already exists (id {other.id})")
        return clean

    def _journal_classes(self) -> None:
        self._p._journal_append(
            {
                "op": "classes",
                "next_class_id": self._p._st.next_class_id,
                "classes": [class_to_dict(c) for c in self._p._st.classes.values()],
            }
        )

    @property
    def mask_dtype(self) -> type[np.unsignedinteger[Any]]:
        """``np.uint8`` while every class id is < 256, else ``np.uint16``."""
        return np.uint8 if max(self._p._st.classes, default=0) < 256 else np.uint16

    # --- masks ---------------------------------------------------------------------------

    def get_mask(self, key: str) -> np.ndarray | None:
        """The image's class-index mask, ``H x W`` (oriented frame) of :attr:`mask_dtype`, or None.

        Pixels of removed classes read as 0. Raises ``ProjectFormatError`` when the file is not
        a label mask or does not match the image size.
        """
        rec = self._p.image(key)
        if rec.mask is None or mask_is_missing(rec):
            return None
        path = self._p.mask_path(rec.mask)
        mask = decode_mask(path)
        if rec.size is not None and mask.shape != (rec.height, rec.width):
            raise ProjectFormatError(
                f"mask file '{path}' is {mask.shape[1]}x{mask.shape[0]} but image '{rec.path}' is "
                f"{rec.width}x{rec.height} (was the image replaced?)"
            )
        with self._p._mutex:
            valid = set(self._p._st.classes)
            dtype = self.mask_dtype
        if not set(rec.classes_present) <= valid or int(mask.max(initial=0)) > max(valid, default=0):
            lut = np.zeros(int(mask.max(initial=0)) + 1, dtype=np.uint16)
            for cid in valid:
                if cid < lut.size:
                    lut[cid] = cid
            mask = lut[mask]
        return mask.astype(dtype, copy=False)

    def set_mask(self, key: str, mask: np.ndarray, status: ImageStatus | str | None = None) -> ImageRecord:
        """Store a mask painted or corrected by the user (PNG written atomically first).

        Args:
            mask: ``H x W`` integer class indices (0 background), at the image's oriented full
                size. Boolean masks are refused (``mask.astype(np.uint8) * class_id``).
            status: default keeps a support a support and makes anything else ``edited``.
                A ``support`` needs at least one pixel of an existing class.

        Raises:
            TypeError / ValueError: bad dtype, shape, unknown class ids, empty support.
            ProjectWriteError: the mask could not be written; nothing changed.
        """
        self._p._check_writable()
        data, present = self._encode_mask(self._p.image(key), mask)  # slow part, outside the mutex
        with self._p._mutex:
            rec = self._p.image(key)
            st = (
                ImageStatus(status)
                if status is not None
                else (ImageStatus.SUPPORT if rec.is_support else ImageStatus.EDITED)
            )
            if st is ImageStatus.SUPPORT and not present:
                raise ValueError(f"'{rec.path}' cannot be a support: its mask has no painted pixels")
            name = self._write_mask(rec, data, present)
            predicted = st is ImageStatus.PREDICTED
            return self._p._update_image(
                rec.path,
                mask=name,
                status=st,
                classes_present=present,
                error=None,
                confidence=rec.confidence if predicted else None,
                model=rec.model if predicted else None,
                run_id=rec.run_id if predicted else None,
            )

    def store_prediction(
        self,
        key: str,
        mask: np.ndarray,
        *,
        confidence: float | None,
        model: str | None = None,
        run_id: str | None = None,
    ) -> bool:
        """Store a propagated mask as ``predicted``, unless the image is (now) human-verified.

        The status check and the write happen under the project mutex, so a mask the user
        painted while propagation ran is never overwritten. Returns False when skipped.
        """
        self._p._check_writable()
        conf = _check_confidence(confidence)
        data, present = self._encode_mask(self._p.image(key), mask)  # slow part, outside the mutex
        with self._p._mutex:
            rec = self._p.image(key)
            if rec.status not in PROPAGATION_WRITABLE:
                log.info("not overwriting %s (%s) with a prediction", rec.path, rec.status)
                return False
            name = self._write_mask(rec, data, present)
            self._p._update_image(
                rec.path,
                mask=name,
                status=ImageStatus.PREDICTED,
                classes_present=present,
                confidence=conf,
                model=model,
                run_id=run_id,
                error=None,
            )
            return True

    def clear_mask(self, key: str) -> ImageRecord:
        """Forget the image's mask and make it ``unlabelled``. The PNG is left on disk (it is
        overwritten by the next mask of this image), so a mistaken clear is recoverable."""
        return self._p._update_image(
            key, mask=None, status=ImageStatus.UNLABELLED, classes_present=(), confidence=None, model=None, run_id=None
        )

    def _validate_mask(self, rec: ImageRecord, mask: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
        arr = np.asarray(mask)
        if arr.dtype == np.bool_ or arr.dtype.kind not in "ui":
            raise TypeError(
                f"mask of '{rec.path}' must hold integer class ids, got dtype {arr.dtype} "
                "(for a binary mask pass mask.astype(np.uint8) * class_id)"
            )
        if arr.ndim != 2:
            raise ValueError(f"mask of '{rec.path}' must be 2-D (H x W), got shape {arr.shape}")
        w, h = self._files.image_size(rec.path)
        if arr.shape != (h, w):
            raise ValueError(f"mask of '{rec.path}' is {arr.shape[1]}x{arr.shape[0]}, the image is {w}x{h}")
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise ValueError(f"mask of '{rec.path}' has values outside 0..65535")
        present = present_ids(arr)
        unknown = [i for i in present if i not in self._p._st.classes]
        if unknown:
            raise ValueError(f"mask of '{rec.path}' uses unknown class id(s) {unknown}")
        return arr, present

    def _encode_mask(self, rec: ImageRecord, mask: np.ndarray) -> tuple[bytes, tuple[int, ...]]:
        arr, present = self._validate_mask(rec, mask)
        with self._p._mutex:
            colors = {c.id: c.color for c in self._p._st.classes.values()}
        return encode_mask(arr, colors), present

    def _write_mask(self, rec: ImageRecord, data: bytes, present: tuple[int, ...]) -> str:
        """Write encoded mask bytes (caller holds the mutex); returns the mask file name."""
        self._p._check_writable()
        gone = [i for i in present if i not in self._p._st.classes]
        if gone:  # a class was removed while the mask was being encoded
            raise ValueError(f"mask of '{rec.path}' uses removed class id(s) {gone}")
        name = rec.mask or mask_file_name(rec.path)
        atomic_write_bytes(self._p.mask_path(name), data)
        return name

    # --- status --------------------------------------------------------------------------

    def set_status(self, key: str, status: ImageStatus | str) -> ImageRecord:
        """Set the review status (``accept``/``reject``...). Rules:

        * ``support`` → same as :meth:`set_support` (needs a non-empty mask);
        * ``predicted``, ``rejected``, ``edited`` need a mask;
        * ``accepted`` without a mask means "verified: nothing to label here";
        * ``unlabelled`` is refused while a mask exists (use :meth:`clear_mask`).
        """
        st = ImageStatus(status)
        if st is ImageStatus.SUPPORT:
            return self.set_support(key, True)
        with self._p._mutex:
            rec = self._p.image(key)
            if st is ImageStatus.UNLABELLED and rec.mask is not None:
                raise ValueError(f"'{rec.path}' has a mask; use clear_mask() to make it unlabelled")
            if st in (ImageStatus.PREDICTED, ImageStatus.REJECTED, ImageStatus.EDITED) and rec.mask is None:
                raise ValueError(f"'{rec.path}' has no mask, so it cannot be '{st}'")
            return self._p._update_image(key, status=st)

    def set_support(self, key: str, on: bool = True) -> ImageRecord:
        """Mark/unmark an image as a support. Unmarking makes it ``edited`` (still human-verified)."""
        with self._p._mutex:
            rec = self._p.image(key)
            if not on:
                return self._p._update_image(key, status=ImageStatus.EDITED) if rec.is_support else rec
            if rec.mask is None or not set(rec.classes_present) & set(self._p._st.classes):
                raise ValueError(f"'{rec.path}' cannot be a support: it has no painted pixels")
            return self._p._update_image(key, status=ImageStatus.SUPPORT, confidence=None)

    def set_confidence(self, key: str, value: float | None) -> ImageRecord:
        return self._p._update_image(key, confidence=_check_confidence(value))

    # --- settings and runs ---------------------------------------------------------------

    def update_settings(self, values: Mapping[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """Merge JSON-serialisable values into the settings; returns the new settings."""
        with self._p._mutex:
            self._p._check_writable()
            new = {**self._p._st.settings, **(values or {}), **kw}
            try:
                json.dumps(new, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"settings must be JSON-serialisable: {exc}") from None
            self._p._st.settings = new
            self._p._journal_append({"op": "settings", "settings": new})
            return dict(new)

    def start_run(self, **fields: Any) -> RunRecord:
        """Record a new propagation run (state ``running``); returns it with a fresh id."""
        run = RunRecord(id=f"run-{now_iso()[:19].replace(':', '')}-{secrets.token_hex(3)}", started=now_iso(), **fields)
        with self._p._mutex:
            self._p._check_writable()
            self._p._st.runs = [*self._p._st.runs, run][-_MAX_RUNS_KEPT:]
            self._p._journal_append({"op": "run", "run": run_to_dict(run)})
        return run

    def update_run(self, run_id: str, **changes: Any) -> RunRecord:
        with self._p._mutex:
            self._p._check_writable()
            i = next((i for i, r in enumerate(self._p._st.runs) if r.id == run_id), None)
            if i is None:
                raise KeyError(f"no run '{run_id}'")
            run = replace(self._p._st.runs[i], **changes)
            self._p._st.runs[i] = run
            self._p._journal_append({"op": "run", "run": run_to_dict(run)})
            return run


def _check_confidence(value: float | None) -> float | None:
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"confidence must be finite, got {value!r}")
    return v
