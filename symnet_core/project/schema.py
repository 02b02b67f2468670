"""The records of a project and their JSON form (``project.json``, schema version 1).

The format is documented for humans in ``docs/project-format.md``; this module is the code.
Records are frozen dataclasses: the store replaces a record to change it, so a record handed
to the GUI never changes under its feet.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from symnet_core.io.images import MAX_PIXELS
from symnet_core.project.errors import ProjectFormatError
from symnet_core.project.paths import check_image_key, check_mask_name
from symnet_core.project.status import ImageStatus

__all__ = [
    "DEFAULT_COLORS",
    "FORMAT_NAME",
    "MASKS_DIR_NAME",
    "PROJECT_DIR_NAME",
    "PROJECT_FILE_NAME",
    "SCHEMA_VERSION",
    "ClassRecord",
    "ImageRecord",
    "ProjectState",
    "RunRecord",
    "app_version",
    "dump_project",
    "loads_untrusted",
    "mask_file_name",
    "normalize_key",
    "now_iso",
    "parse_project",
]

SCHEMA_VERSION = 1
FORMAT_NAME = "symnet-annotate-project"
PROJECT_DIR_NAME = ".symnet"
PROJECT_FILE_NAME = "project.json"
MASKS_DIR_NAME = "masks"
#: Class ids are stored in 16-bit masks: 1..MAX_CLASS_ID (``next_class_id`` at most one more).
MAX_CLASS_ID = 65535

#: Colours given to classes created without one (cycled by class id).
DEFAULT_COLORS: tuple[str, ...] = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#46f0f0",
    "#f032e6",
    "#bcf60c",
    "#fabebe",
    "#008080",
    "#e6beff",
    "#9a6324",
    "#fffac8",
    "#800000",
    "#aaffc3",
    "#808000",
)
_COLOR_RE = re.compile(r"^#[0-9a-f]{6}$")

log = logging.getLogger(__name__)


_APP_VERSION: str | None = None


def app_version() -> str:
    """Installed version of symnet-annotate (``"0+unknown"`` when not installed)."""
    global _APP_VERSION
    if _APP_VERSION is None:
        try:
            from importlib.metadata import version

            _APP_VERSION = version("symnet-annotate")
        except Exception:  # not installed (running from a source tree)
            _APP_VERSION = "0+unknown"
    return _APP_VERSION


def _finite_or_none(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def loads_untrusted(raw: bytes | str) -> Any:
    """``json.loads`` for project files and journal lines: ``NaN``, ``Infinity`` and overflowing
    numbers (``1e400``) become ``None``, so a damaged value can never make every later save fail
    (saves refuse non-finite numbers)."""
    return json.loads(raw, parse_constant=lambda _c: None, parse_float=_finite_or_none)


def now_iso() -> str:
    """Current UTC time as ``2025-01-31T12:00:00.123Z``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def normalize_key(rel_path: str) -> str:
    """The lookup form of an image key: NFC-normalised (macOS may list names as NFD)."""
    return unicodedata.normalize("NFC", rel_path)


def mask_file_name(rel_path: str) -> str:
    """Mask file name for an image: ``<sanitised stem>-<16 hex of sha1(NFC path)>.png``.

    Nested paths, spaces, non-ASCII and reserved names all map to a short, portable name; the
    hash keeps ``a/x.jpg``, ``b/x.jpg`` and ``x.png`` apart. The name is stored in each image
    record, so changing this rule later never orphans existing masks.
    """
    key = normalize_key(rel_path)
    digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", PurePosixPath(key).stem).strip("_")[:48] or "image"
    return f"{stem}-{digest}.png"


def normalize_color(color: str) -> str:
    """``"#RRGGBB"``/``"#rrggbb"`` -> ``"#rrggbb"``; anything else raises ``ValueError``."""
    c = str(color).strip().lower()
    if not _COLOR_RE.match(c):
        raise ValueError(f"colour must look like '#rrggbb', got {color!r}")
    return c


@dataclass(frozen=True)
class ClassRecord:
    """One annotation class. ``id`` >= 1 is stable and never reused; 0 is background."""

    id: int
    name: str
    color: str


@dataclass(frozen=True)
class ImageRecord:
    """One image of the project (frozen: the store replaces records, never mutates them).

    Attributes:
        path: the image's path relative to the images root, POSIX separators. This is the
            image's **key** in every API.
        width, height: oriented full-resolution size, ``None`` until first read (sizes of new
            images are filled lazily, never on open).
        status: review status (see :mod:`symnet_core.project.status`).
        mask: mask file name inside ``.symnet/masks/``, ``None`` when there is no mask.
        confidence: score of the prediction that produced the mask (``None`` for painted masks).
        model: which model/checkpoint produced the prediction.
        run_id: the propagation run that produced the prediction.
        classes_present: sorted class ids with at least one pixel in the mask.
        updated: UTC time of the last change of this record.
        missing: the image file was not found at the last open (record and mask are kept).
        error: why the image or its mask could not be read, if so.
    """

    path: str
    width: int | None = None
    height: int | None = None
    status: ImageStatus = ImageStatus.UNLABELLED
    mask: str | None = None
    confidence: float | None = None
    model: str | None = None
    run_id: str | None = None
    classes_present: tuple[int, ...] = ()
    updated: str | None = None
    missing: bool = False
    error: str | None = None

    @property
    def key(self) -> str:
        return self.path

    @property
    def is_support(self) -> bool:
        return self.status is ImageStatus.SUPPORT

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` or ``None`` when not known yet."""
        return None if self.width is None or self.height is None else (self.width, self.height)


@dataclass(frozen=True)
class RunRecord:
    """One propagation run. ``state`` is ``running``, ``finished``, ``cancelled`` or ``failed``."""

    id: str
    state: str = "running"
    scope: str = "unlabelled"
    fingerprint: str = ""
    model: str | None = None
    threshold: float | None = None
    classes: tuple[int, ...] = ()
    started: str | None = None
    finished: str | None = None
    predicted: int = 0


@dataclass
class ProjectState:
    """Everything ``project.json`` holds, in memory (owned and locked by ``Project``)."""

    classes: dict[int, ClassRecord] = field(default_factory=dict)
    next_class_id: int = 1
    images: dict[str, ImageRecord] = field(default_factory=dict)  # normalize_key(path) -> record
    settings: dict[str, Any] = field(default_factory=dict)
    runs: list[RunRecord] = field(default_factory=list)
    created: str = field(default_factory=now_iso)
    app_version: str = ""


# --- JSON <-> records ---------------------------------------------------------------------

_IMAGE_OPTIONAL = ("mask", "confidence", "model", "run_id", "updated", "error")
_IMAGE_TEXT = ("model", "run_id", "updated", "error")
_RUN_TYPES: dict[str, tuple[type, ...]] = {
    "state": (str,), "scope": (str,), "fingerprint": (str,), "model": (str, type(None)),
    "threshold": (int, float, type(None)), "started": (str, type(None)), "finished": (str, type(None)),
    "predicted": (int,), "classes": (list, tuple),
}


def class_to_dict(c: ClassRecord) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "color": c.color}


def image_to_dict(r: ImageRecord) -> dict[str, Any]:
    d: dict[str, Any] = {"path": r.path, "width": r.width, "height": r.height, "status": r.status.value}
    for name in _IMAGE_OPTIONAL:
        value = getattr(r, name)
        if value is not None:
            d[name] = value
    if r.classes_present:
        d["classes_present"] = list(r.classes_present)
    if r.missing:
        d["missing"] = True
    return d


def run_to_dict(r: RunRecord) -> dict[str, Any]:
    d = {k: getattr(r, k) for k in RunRecord.__dataclass_fields__}
    d["classes"] = list(r.classes)
    return d


def _fail(source: Path | str, what: str) -> ProjectFormatError:
    return ProjectFormatError(f"'{source}' is not a valid project file: {what}")


def _opt_int(d: dict[str, Any], name: str, where: str, source: Path | str) -> int | None:
    v = d.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise _fail(source, f"{where}: '{name}' must be a positive integer, got {v!r}")
    return v


def class_from_dict(d: Any, source: Path | str) -> ClassRecord:
    if not isinstance(d, dict) or not isinstance(d.get("id"), int) or not 1 <= d["id"] <= MAX_CLASS_ID:
        raise _fail(source, f"bad class entry {str(d)[:200]} (ids are 1..{MAX_CLASS_ID})")
    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, f"class {d['id']} has no name")
    try:
        color = normalize_color(d.get("color", DEFAULT_COLORS[(d["id"] - 1) % len(DEFAULT_COLORS)]))
    except ValueError as exc:
        raise _fail(source, f"class {d['id']}: {exc}") from None
    return ClassRecord(d["id"], name, color)


def _size(d: dict[str, Any], where: str, source: Path | str) -> tuple[int | None, int | None]:
    """Width and height; an impossible size (beyond the image-size limit) is forgotten, not fatal:
    sizes are a cache re-read from the image header on first use."""
    w, h = _opt_int(d, "width", where, source), _opt_int(d, "height", where, source)
    if w is not None and h is not None and w * h > MAX_PIXELS:
        log.warning("%s: %s: size %dx%d exceeds the image-size limit; ignored (re-read from the file)",
                    source, where, w, h)
        return None, None
    return w, h


def image_from_dict(d: Any, source: Path | str) -> ImageRecord:
    if not isinstance(d, dict) or not isinstance(d.get("path"), str) or not d["path"]:
        raise _fail(source, f"bad image entry {str(d)[:200]}")
    check_image_key(d["path"], source)
    mask = d.get("mask")
    if mask is not None:
        check_mask_name(mask, source)
    where = f"image '{d['path']}'"
    try:
        status = ImageStatus(d.get("status", "unlabelled"))
    except ValueError:
        raise _fail(source, f"{where}: unknown status {d.get('status')!r}") from None
    conf = d.get("confidence")
    if conf is not None and (isinstance(conf, bool) or not isinstance(conf, (int, float))):
        raise _fail(source, f"{where}: confidence must be a number or null")
    if conf is not None and not math.isfinite(conf):
        log.warning("%s: %s: confidence %r is not finite; ignored", source, where, conf)
        conf = None
    present = d.get("classes_present", [])
    if not isinstance(present, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_CLASS_ID for i in present
    ):
        raise _fail(source, f"{where}: classes_present must be a list of class ids 1..{MAX_CLASS_ID}")
    for name in _IMAGE_TEXT:
        if d.get(name) is not None and not isinstance(d[name], str):
            raise _fail(source, f"{where}: '{name}' must be a string or null, got {str(d[name])[:40]}")
    width, height = _size(d, where, source)
    return ImageRecord(
        path=d["path"],
        width=width,
        height=height,
        status=status,
        mask=mask,
        confidence=None if conf is None else float(conf),
        model=d.get("model"),
        run_id=d.get("run_id"),
        classes_present=tuple(sorted(present)),
        updated=d.get("updated"),
        missing=bool(d.get("missing", False)),
        error=d.get("error"),
    )


def run_from_dict(d: Any, source: Path | str) -> RunRecord:
    if not isinstance(d, dict) or not isinstance(d.get("id"), str):
        raise _fail(source, f"bad run entry {d!r}")
    known = {k: d[k] for k in RunRecord.__dataclass_fields__ if k in d}
    for k, v in known.items():
        if k in _RUN_TYPES and (not isinstance(v, _RUN_TYPES[k]) or (isinstance(v, bool) and k != "state")):
            raise _fail(source, f"run '{d['id'][:60]}': '{k}' has the wrong type ({str(v)[:40]})")
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in known.get("classes", ())):
        raise _fail(source, f"run '{d['id'][:60]}': 'classes' must be a list of class ids")
    known["classes"] = tuple(known.get("classes", ()))
    return RunRecord(**known)


def parse_project(data: Any, source: Path | str) -> ProjectState:
    """Validate a schema-1 dictionary and build the in-memory state (raises ProjectFormatError)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise _fail(source, f'missing "format": "{FORMAT_NAME}"')
    for name, kind in (("classes", list), ("images", list), ("settings", dict), ("runs", list)):
        if not isinstance(data.get(name, kind()), kind):
            raise _fail(source, f"'{name}' must be a {kind.__name__}")
    st = ProjectState(created=str(data.get("created") or now_iso()), app_version=str(data.get("app_version", "")))
    for c in data.get("classes", []):
        rec = class_from_dict(c, source)
        if rec.id in st.classes:
            raise _fail(source, f"class id {rec.id} appears twice")
        st.classes[rec.id] = rec
    next_id = data.get("next_class_id", 1)
    if isinstance(next_id, bool) or not isinstance(next_id, int) or not 1 <= next_id <= MAX_CLASS_ID + 1:
        raise _fail(
            source,
            f"'next_class_id' must be an integer 1..{MAX_CLASS_ID + 1}, got {str(next_id)[:40]} "
            "(set it to one more than the largest class id)",
        )
    st.next_class_id = max([next_id, *(i + 1 for i in st.classes)])
    for d in data.get("images", []):
        rec = image_from_dict(d, source)
        st.images[normalize_key(rec.path)] = rec
    st.settings = dict(data.get("settings", {}))
    st.runs = [run_from_dict(r, source) for r in data.get("runs", [])]
    return st


def dump_project(st: ProjectState, app_version: str) -> bytes:
    """Serialise to UTF-8 JSON: pretty at the top, one compact line per image (fast, diffable)."""
    head = {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "app_version": app_version,
        "created": st.created,
        "modified": now_iso(),
        "next_class_id": st.next_class_id,
        "classes": [class_to_dict(c) for c in st.classes.values()],
        "settings": st.settings,
        "runs": [run_to_dict(r) for r in st.runs],
    }
    text = json.dumps(head, indent=1, ensure_ascii=False, allow_nan=False)
    enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    lines = ",\n  ".join(enc.encode(image_to_dict(r)) for r in st.images.values())
    images = f'"images": [\n  {lines}\n ]' if lines else '"images": []'
    return (text[:-2] + f",\n {images}\n}}\n").encode("utf-8")
