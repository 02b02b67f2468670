"""A corpus of awkward and broken image files, for any test that reads user folders.

``make_bad_corpus(dir)`` writes the files and returns ``{file name: Expected}``. Tests can
check each outcome generically (readable or not, oriented size, one probe pixel) or pick the
files they care about. Everything is generated (no binary fixtures in the repository) and
small, except ``huge_header.png``, whose header *claims* 1.6 gigapixels (the file is tiny).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Expected:
    """What reading one corpus file must give.

    Attributes:
        readable: False when ``read_image`` must raise ``ImageReadError``.
        reason: for unreadable files, a lower-case substring of the error message.
        size: oriented ``(width, height)`` for readable files.
        mode: Pillow mode of the file (``LoadedImage.original_mode``).
        probe: ``((x, y), (r, g, b), tolerance)`` — one pixel of the RGB result, oriented frame.
        exif_transposed: expected ``LoadedImage.exif_transposed``.
        header_ok: True when ``read_image_size`` succeeds even though pixels are unreadable
            (e.g. a truncated file whose header survived).
    """

    readable: bool
    reason: str | None = None
    size: tuple[int, int] | None = None
    mode: str | None = None
    probe: tuple[tuple[int, int], tuple[int, int, int], int] | None = None
    exif_transposed: bool = False
    header_ok: bool = False


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _huge_png_header(path: Path, w: int, h: int) -> None:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit grayscale
    body = _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0")) + _png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def make_bad_corpus(directory: str | Path) -> dict[str, Expected]:
    """Write the corpus into ``directory`` (created if needed); return ``{name: Expected}``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Expected] = {}

    # -- unreadable ------------------------------------------------------------------------
    Image.fromarray(_noise(256, 256)).save(d / "full.jpg", quality=90)
    data = (d / "full.jpg").read_bytes()
    (d / "full.jpg").unlink()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 2])
    out["truncated.jpg"] = Expected(False, reason="truncated", header_ok=True)

    Image.fromarray(_noise(64, 64, 1)).save(d / "full.png")
    data = (d / "full.png").read_bytes()
    (d / "full.png").unlink()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    out["truncated.png"] = Expected(False, reason="truncated", header_ok=True)

    (d / "empty.png").write_bytes(b"")
    out["empty.png"] = Expected(False, reason="empty")

    (d / "notes.jpg").write_text("this is a text file with an image extension\n")
    out["notes.jpg"] = Expected(False, reason="not an image")

    _huge_png_header(d / "huge_header.png", 40_000, 40_000)
    out["huge_header.png"] = Expected(False, reason="too many pixels")

    # -- readable, awkward -------------------------------------------------------------------
    g16 = np.zeros((20, 30), dtype=np.uint16)
    g16[:, 15:] = 4095  # 12-bit data in a 16-bit container -> scaled by 12 bits
    g16[0, 0] = 1000
    Image.fromarray(g16).save(d / "gray12in16.tif")
    out["gray12in16.tif"] = Expected(True, size=(30, 20), mode="I;16", probe=((20, 5), (255, 255, 255), 0))

    g16full = np.full((16, 16), 32768, dtype=np.uint16)
    g16full[0, 0] = 65535
    Image.fromarray(g16full).save(d / "gray16.png")
    out["gray16.png"] = Expected(True, size=(16, 16), mode="I;16", probe=((5, 5), (128, 128, 128), 0))

    cmyk = Image.new("CMYK", (32, 24), (0, 255, 255, 0))  # pure red in CMYK
    cmyk.save(d / "cmyk.jpg", quality=95)
    out["cmyk.jpg"] = Expected(True, size=(32, 24), mode="CMYK", probe=((10, 10), (255, 0, 0), 12))

    # Stored 60 wide x 40 high, red block in the stored top-left corner. Orientation 6 means
    # "rotate 90 degrees clockwise to display": oriented 40 x 60, the red block at the top right.
    stored = np.zeros((40, 60, 3), dtype=np.uint8)
    stored[:10, :20] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(d / "exif_rot6.jpg", quality=95, exif=exif)
    out["exif_rot6.jpg"] = Expected(
        True, size=(40, 60), mode="RGB", probe=((35, 5), (255, 0, 0), 30), exif_transposed=True
    )

    Image.new("RGB", (1, 1), (10, 200, 30)).save(d / "one_pixel.png")
    out["one_pixel.png"] = Expected(True, size=(1, 1), mode="RGB", probe=((0, 0), (10, 200, 30), 0))

    rgba = np.zeros((10, 20, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:, :10, 3] = 0  # left half fully transparent -> the neutral background (ImageNet mean)
    rgba[:, 10:, 3] = 255
    Image.fromarray(rgba).save(d / "rgba.png")
    out["rgba.png"] = Expected(True, size=(20, 10), mode="RGBA", probe=((2, 2), (124, 116, 104), 0))
    out["rgba.png#opaque"] = Expected(True, size=(20, 10), mode="RGBA", probe=((15, 2), (200, 100, 50), 0))

    pal = Image.new("P", (12, 8), 1)
    pal.putpalette([0, 0, 0, 0, 128, 255] + [0] * (254 * 3))
    pal.save(d / "palette.png")
    out["palette.png"] = Expected(True, size=(12, 8), mode="P", probe=((3, 3), (0, 128, 255), 0))

    palt = Image.new("P", (12, 8), 1)
    palt.putpalette([0, 0, 0, 0, 128, 255] + [0] * (254 * 3))
    palt.save(d / "palette_transparent.png", transparency=1)
    out["palette_transparent.png"] = Expected(True, size=(12, 8), mode="P", probe=((3, 3), (124, 116, 104), 0))

    f = np.linspace(-1.0, 1.0, 16 * 8, dtype=np.float32).reshape(8, 16)
    f[0, 0] = np.nan
    Image.fromarray(f).save(d / "float.tif")
    out["float.tif"] = Expected(True, size=(16, 8), mode="F", probe=((0, 0), (0, 0, 0), 0))
    out["float.tif#max"] = Expected(True, size=(16, 8), mode="F", probe=((15, 7), (255, 255, 255), 0))

    Image.new("L", (9, 7), 77).save(d / "gray.png")
    out["gray.png"] = Expected(True, size=(9, 7), mode="L", probe=((4, 4), (77, 77, 77), 0))

    Image.new("LA", (9, 7), (200, 128)).save(d / "gray_alpha.png")
    out["gray_alpha.png"] = Expected(True, size=(9, 7), mode="LA", probe=((4, 4), (162, 158, 152), 1))

    bilevel = Image.new("1", (8, 8), 0)
    bilevel.putpixel((3, 3), 1)
    bilevel.save(d / "bilevel.png")
    out["bilevel.png"] = Expected(True, size=(8, 8), mode="1", probe=((3, 3), (255, 255, 255), 0))

    Image.new("RGB", (14, 10), (1, 2, 250)).save(d / "image.webp", lossless=True)
    out["image.webp"] = Expected(True, size=(14, 10), mode="RGB", probe=((5, 5), (1, 2, 250), 0))

    Image.new("RGB", (13, 11), (250, 2, 1)).save(d / "image.bmp")
    out["image.bmp"] = Expected(True, size=(13, 11), mode="RGB", probe=((5, 5), (250, 2, 1), 0))

    Image.new("RGB", (6, 5), (5, 6, 7)).save(d / "png_named.JPG", format="PNG")
    out["png_named.JPG"] = Expected(True, size=(6, 5), mode="RGB", probe=((1, 1), (5, 6, 7), 0))

    neg = np.array([[-100, 0], [50, 100]], dtype=np.int32)
    Image.fromarray(neg).save(d / "signed32.tif")
    out["signed32.tif"] = Expected(True, size=(2, 2), mode="I", probe=((1, 1), (255, 255, 255), 0))
    return out


def file_of(entry: str) -> str:
    """The file name of a corpus entry (entries may carry a ``#variant`` suffix)."""
    return entry.split("#", 1)[0]
