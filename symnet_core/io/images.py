"""Reading images for display, model input and export — one code path for all three.

Every image the app touches goes through :func:`read_image`, so a photo is oriented, converted
and scaled the same way on the canvas, in the predictor and in the exported masks.

Coordinate frame
    All sizes and arrays are in the **oriented frame**: the EXIF orientation tag (and an XMP
    ``tiff:Orientation``) is applied once, at load. ``(width, height)`` tuples are in that frame,
    arrays are ``H x W (x C)``. Masks stored by the project and exported to COCO use the same
    frame, so they line up with what the user saw.

Display normalisation (how any file becomes ``H x W x 3`` ``uint8`` RGB)
    * ``RGB``: unchanged. ``L`` (grayscale) and ``1`` (bilevel, 0/255): replicated to 3 channels.
    * ``P`` (palette): expanded through the palette.
    * Transparency (``RGBA``, ``LA``, ``PA``, ``P`` with a transparent index, ``RGBa``): the colour
      is **composited on a neutral grey**, :data:`TRANSPARENT_BACKGROUND` = the ImageNet mean
      colour ``(124, 116, 104)``: ``(rgb * alpha + bg * (255 - alpha)) / 255``. Pixels under full
      transparency have no defined colour (encoders often keep stale data there); the mean colour
      is deterministic and normalises to ~0 at the model's input, so a cut-out's empty area reads
      as "nothing" instead of a black object (black degraded predictions). The GUI shows the same
      pixels (it reads through this function). The alpha channel itself is not kept.
    * ``CMYK``, ``YCbCr``, ``RGBX``: Pillow's conversion to RGB (no ICC colour management).
    * Integer images deeper than 8 bits (``I;16``, ``I;16B``, ``I;16L``, ``I``): scaled by the
      smallest bit depth that holds the image's maximum value: ``bits = max(8, bit_length(max))``,
      ``v8 = round(v * 255 / (2**bits - 1))``. A full-range 16-bit photo is scaled like ``v >> 8``;
      12-bit camera or microscope data stored in 16-bit containers uses the whole 0..255 range
      instead of appearing black. Zero stays black and images of one bit depth keep their relative
      brightness (no per-image contrast stretch that would amplify noise). Images with negative
      values are min–max stretched.
    * Float (``F``): min–max stretched to 0..255; NaN and ±inf become 0; a constant image is 0.
    * Multi-frame files (TIFF stacks, animated WebP): the first frame.

Errors
    Anything that cannot be read — missing, empty, truncated, corrupt, not an image, unsupported
    mode, too many pixels — raises :class:`ImageReadError` (a :class:`ValueError`) naming the file
    and the problem; Pillow's own exceptions never escape. Truncated files are errors:
    ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` must stay ``False`` (a half-grey image silently
    accepted as a training or support image is worse than a clear error).

Huge images
    Images up to :data:`MAX_PIXELS` (300 MP) are read; larger ones raise :class:`ImageReadError`.
    ``read_image(path, max_side=N)`` decodes a smaller version when only ``N`` pixels on the long
    side are needed: JPEG uses DCT scaling (``Image.draft``), so a 50 MP photo never exists at full
    size in memory; other formats decode fully once, then are reduced.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from symnet_core.io.folders import SUPPORTED_EXTENSIONS, list_images, natural_key

__all__ = [
    "MAX_PIXELS",
    "SUPPORTED_EXTENSIONS",
    "TRANSPARENT_BACKGROUND",
    "ImageReadError",
    "LoadedImage",
    "apply_pixel_limit",
    "composite_on_background",
    "list_images",
    "natural_key",
    "pil_to_array",
    "pixel_limit_error",
    "read_image",
    "read_image_size",
]

log = logging.getLogger(__name__)

#: Largest image (width * height, full resolution) that is read. Real photos reach ~200 MP
#: (medium-format / stitched); beyond that a crafted header is more likely than a photo.
MAX_PIXELS: int = 300_000_000

_ORIENTATION_TAG = 0x0112
_CHUNK_PIXELS = 1 << 22  # rows are rescaled in chunks of ~4 MP to bound temporary memory


class ImageReadError(ValueError):
    """An image file could not be read. ``str(err)`` names the file and the problem.

    Attributes:
        path: the file, as given.
        reason: the problem, in words (no file name).
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot read image '{self.path}': {reason}")

    def __reduce__(self) -> tuple[type[ImageReadError], tuple[str, str]]:
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image in the oriented frame.

    Attributes:
        rgb: ``H x W x 3`` ``uint8`` RGB, C-contiguous, **read-only** (copy before editing).
        path: the file it came from.
        original_mode: Pillow mode of the file (``"RGB"``, ``"I;16"``, ``"CMYK"``...).
        exif_transposed: True when an orientation other than 1 was applied.
        size: ``(width, height)`` of ``rgb``.
        full_size: ``(width, height)`` of the full-resolution oriented image; equals ``size``
            unless ``max_side`` reduced it. Project records and masks use ``full_size``.
    """

    rgb: np.ndarray
    path: str
    original_mode: str
    exif_transposed: bool
    size: tuple[int, int]
    full_size: tuple[int, int]

    @property
    def scale(self) -> float:
        """``size / full_size`` (1.0 when decoded at full resolution)."""
        return self.size[0] / self.full_size[0]


def apply_pixel_limit() -> None:
    """Make Pillow accept every image up to :data:`MAX_PIXELS` (the one size policy).

    Pillow warns above ``Image.MAX_IMAGE_PIXELS`` (default ~89 MP) and refuses above twice that,
    so a mask written for an accepted 150 MP image could not be read back. Every reader of
    image or mask files (images, project masks, PNG/COCO import) calls this before
    ``Image.open`` and then refuses anything above :data:`MAX_PIXELS` itself, with a clear
    message. It only raises Pillow's limit, never lowers one set by someone else.
    OpenCV's own limit (``CV_IO_MAX_IMAGE_PIXELS``, 2^30 by default) is above ours.
    """
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def pixel_limit_error(width: int, height: int) -> str | None:
    """Why a ``width x height`` image is refused by the size policy, or None when it is accepted."""
    if width <= 0 or height <= 0:
        return f"invalid size {width}x{height}"
    if width * height > MAX_PIXELS:
        return f"{width}x{height} = {width * height / 1e6:.0f} MP exceeds the limit of {MAX_PIXELS / 1e6:.0f} MP"
    return None


_ensure_pil_limit = apply_pixel_limit


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _open(path: str | os.PathLike[str]) -> Image.Image:
    """Open lazily (header only) with our error wrapping. The caller must close the image."""
    _ensure_pil_limit()
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ImageReadError(p, "file not found") from None
    except OSError as exc:
        raise ImageReadError(p, f"cannot access the file ({_describe(exc)})") from exc
    if not os.path.isfile(p):
        raise ImageReadError(p, "not a regular file")
    if st.st_size == 0:
        raise ImageReadError(p, "the file is empty (0 bytes)")
    try:
        im = Image.open(p)
    except PermissionError as exc:
        raise ImageReadError(p, f"permission denied: the file is not readable by this user ({exc.strerror})") from None
    except UnidentifiedImageError:
        raise ImageReadError(p, "not an image, or an unsupported image format") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(p, f"too many pixels ({_describe(exc)})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageReadError(p, f"corrupt image header ({_describe(exc)})") from exc
    why = pixel_limit_error(*im.size)
    if why:
        im.close()
        raise ImageReadError(p, why)
    return im


def _exif_orientation(im: Image.Image) -> int:
    """EXIF/XMP orientation 1..8 without decoding pixels (1 when absent or invalid)."""
    try:
        # PngImageFile.getexif() decodes the whole image to look for an eXIf chunk after the
        # pixel data; the base implementation only looks at chunks before it (as browsers do).
        # Using the same reader in read_image and read_image_size keeps their sizes identical.
        exif = Image.Image.getexif(im) if im.format == "PNG" else im.getexif()
        value = int(exif.get(_ORIENTATION_TAG, 1) or 1)
    except Exception as exc:  # malformed EXIF must not make an otherwise good image unreadable
        log.debug("ignoring unreadable EXIF in %s: %s", getattr(im, "filename", "?"), exc)
        return 1
    return value if 1 <= value <= 8 else 1


def _oriented_size(im: Image.Image, orientation: int) -> tuple[int, int]:
    """Header size in the oriented frame."""
    w, h = im.size
    if orientation < 5:
        return (w, h)
    tags = getattr(im, "tag_v2", None)
    if tags is not None and w != h and (tags.get(256), tags.get(257)) == (h, w):
        return (w, h)  # recent Pillow reports TIFF sizes already oriented (and orients on load)
    return (h, w)


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Same result as ``PIL.ImageOps.exif_transpose`` for orientations 1..8 (H x W x C arrays)."""
    if orientation == 2:
        a = a[:, ::-1]
    elif orientation == 3:
        a = a[::-1, ::-1]
    elif orientation == 4:
        a = a[::-1]
    elif orientation == 5:
        a = a.transpose(1, 0, 2)
    elif orientation == 6:
        a = np.rot90(a, k=-1)
    elif orientation == 7:
        a = a[::-1, ::-1].transpose(1, 0, 2)
    elif orientation == 8:
        a = np.rot90(a, k=1)
    return np.ascontiguousarray(a)


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of the full-resolution image in the oriented frame.

    Reads only the header (and EXIF), never the pixels: ~0.1 ms per file, so a folder of 10,000
    images can be sized in about a second. Raises :class:`ImageReadError` on unreadable files
    (a truncated file whose header is intact is only detected by :func:`read_image`).
    """
    im = _open(path)
    try:
        return _oriented_size(im, _exif_orientation(im))
    finally:
        im.close()


def read_image(path: str | os.PathLike[str], max_side: int | None = None) -> LoadedImage:
    """Decode an image to ``H x W x 3`` ``uint8`` RGB in the oriented frame.

    Args:
        path: image file (JPEG, PNG, TIFF, BMP, WebP, or anything else Pillow reads).
        max_side: when given, the result's longer side is at most ``max_side`` pixels (never
            upscaled; area-averaged). JPEGs are decoded at a reduced DCT scale, so memory stays
            proportional to the output, not to the file.

    Returns:
        A :class:`LoadedImage`; see the module docstring for the conversions applied.

    Raises:
        ImageReadError: for every kind of unreadable file.
    """
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    p = os.fspath(path)
    im = _open(p)
    try:
        mode = im.mode
        orientation = _exif_orientation(im)
        transposed = orientation != 1
        full_size = _oriented_size(im, orientation)
        if max_side is not None and im.format in ("JPEG", "MPO"):
            w, h = im.size
            f = max_side / max(w, h)
            if f < 1:
                im.draft(None, (max(1, math.ceil(w * f)), max(1, math.ceil(h * f))))
        try:
            im.load()
            if orientation != 1 and _exif_orientation(im) == 1:
                orientation = 1  # the plugin applied it while loading (TIFF in recent Pillow)
            rgb = _to_rgb(_pil_reduce(im, max_side) if max_side is not None else im)
        except ImageReadError:
            raise
        except MemoryError:
            raise ImageReadError(p, f"not enough memory to decode {im.size[0]}x{im.size[1]}") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            reason = _describe(exc)
            if "truncated" in reason.lower():
                reason = f"the file is truncated or incomplete ({reason})"
            else:
                reason = f"corrupt or unsupported image data ({reason})"
            raise ImageReadError(p, reason) from exc
    finally:
        im.close()
    if max_side is not None and max(rgb.shape[:2]) > max_side:
        rgb = _resize_to_fit(rgb, max_side)
    rgb = _apply_orientation(rgb, orientation)
    rgb.flags.writeable = False
    return LoadedImage(
        rgb=rgb,
        path=p,
        original_mode=mode,
        exif_transposed=transposed,
        size=(rgb.shape[1], rgb.shape[0]),
        full_size=full_size,
    )


def _pil_reduce(im: Image.Image, max_side: int) -> Image.Image:
    factor = max(im.size) // max_side
    if factor < 2 or im.mode not in ("L", "RGB", "RGBA", "LA", "I", "F", "CMYK", "RGBX"):
        return im
    return im.reduce(factor)


def _resize_to_fit(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    f = max_side / max(h, w)
    size = (max(1, min(max_side, round(w * f))), max(1, min(max_side, round(h * f))))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


# --- mode conversions ---------------------------------------------------------------------


def pil_to_array(im: Image.Image) -> np.ndarray:
    """``np.asarray(im)`` of a loaded image, band by band into one array (no transient full copies):
    the peak is the Pillow image plus the result, not three full copies."""
    return _to_array(im)


def _to_array(im: Image.Image) -> np.ndarray:
    """``np.asarray(im)`` without its transient copies (``tobytes`` joins a second full copy):
    large images are copied band by band into one preallocated array."""
    w, h = im.size
    if w * h <= _CHUNK_PIXELS:
        return np.asarray(im)
    rows = max(1, _CHUNK_PIXELS // w)
    first = np.asarray(im.crop((0, 0, w, min(h, rows))))
    out = np.empty((h, *first.shape[1:]), dtype=first.dtype)
    out[: first.shape[0]] = first
    for y in range(rows, h, rows):
        out[y : y + rows] = np.asarray(im.crop((0, y, w, min(h, y + rows))))
    return out


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any Pillow image -> H x W x 3 uint8 (see "display normalisation" above)."""
    mode = im.mode
    if mode == "RGB":
        return _to_array(im)
    if mode == "L":
        return _gray_to_rgb(_to_array(im))
    if mode == "1":
        return _gray_to_rgb(np.asarray(im.convert("L"), dtype=np.uint8))
    if mode == "P":
        if "transparency" in im.info:
            return _composite(np.asarray(im.convert("RGBA")))
        return np.array(im.convert("RGB"), dtype=np.uint8)
    if mode in ("RGBA", "PA", "RGBa"):
        return _composite(np.asarray(im.convert("RGBA") if mode != "RGBA" else im))
    if mode == "LA":
        return _composite(np.asarray(im.convert("RGBA")))
    if mode.startswith("I"):
        return _gray_to_rgb(_integer_to_uint8(_as_integer_array(im)))
    if mode == "F":
        return _gray_to_rgb(_float_to_uint8(np.asarray(im, dtype=np.float32)))
    try:
        return np.array(im.convert("RGB"), dtype=np.uint8)
    except (ValueError, OSError) as exc:
        raise ValueError(f"unsupported image mode {mode!r}") from exc


def _gray_to_rgb(g: np.ndarray) -> np.ndarray:
    return np.repeat(g[:, :, None], 3, axis=2)


#: RGB that transparent pixels are composited on (the ImageNet mean colour, rounded)
TRANSPARENT_BACKGROUND = (124, 116, 104)


def composite_on_background(rgba: np.ndarray) -> np.ndarray:
    """``H x W x 4`` uint8 RGBA -> ``H x W x 3`` uint8 RGB over :data:`TRANSPARENT_BACKGROUND`."""
    alpha = rgba[..., 3:4].astype(np.uint32)
    bg = np.asarray(TRANSPARENT_BACKGROUND, np.uint32)
    out = (rgba[..., :3].astype(np.uint32) * alpha + bg * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _composite(rgba: np.ndarray) -> np.ndarray:
    return composite_on_background(rgba)


def _as_integer_array(im: Image.Image) -> np.ndarray:
    try:
        a = np.asarray(im)
    except (TypeError, ValueError, KeyError):
        a = None
    if a is None or a.dtype.kind not in "iu" or a.ndim != 2:
        a = np.asarray(im.convert("I"))
    return a


def _chunked_scale(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(a - lo) * 255 / (hi - lo), rounded and clipped, in row chunks (bounded temporaries)."""
    out = np.zeros(a.shape, dtype=np.uint8)
    if hi <= lo:
        return out
    k = 255.0 / (hi - lo)
    rows = max(1, _CHUNK_PIXELS // max(1, a.shape[1]))
    for r in range(0, a.shape[0], rows):
        block = a[r : r + rows].astype(np.float32)
        block -= lo
        block *= k
        np.clip(block, 0, 255, out=block)
        np.rint(block, out=block)
        out[r : r + rows] = block
    return out


def _integer_to_uint8(a: np.ndarray) -> np.ndarray:
    lo, hi = int(a.min()), int(a.max())
    if lo < 0:
        return _chunked_scale(a, lo, hi)
    if hi <= 255:
        return a.astype(np.uint8)
    bits = max(8, hi.bit_length())
    return _chunked_scale(a, 0.0, float(2**bits - 1))


def _float_to_uint8(a: np.ndarray) -> np.ndarray:
    finite = np.isfinite(a)
    if not finite.any():
        return np.zeros(a.shape, dtype=np.uint8)
    clean = np.where(finite, a, np.nan)
    lo, hi = float(np.nanmin(clean)), float(np.nanmax(clean))
    out = _chunked_scale(np.nan_to_num(clean, nan=lo), lo, hi)
    out[~finite] = 0
    return out
