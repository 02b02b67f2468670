"""Image reading: every awkward file gives the right pixels or a clear ImageReadError."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageOps

from symnet_core.io.images import (
    ImageReadError,
    list_images,
    natural_key,
    read_image,
    read_image_size,
)

try:
    from tests.bad_images import file_of, make_bad_corpus
except ImportError:  # tests/ on sys.path (pytest rootdir-relative import)
    from bad_images import file_of, make_bad_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    d = tmp_path_factory.mktemp("corpus")
    return d, make_bad_corpus(d)


def test_truncated_images_are_not_silently_accepted_globally() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_corpus_outcomes(corpus: tuple[Path, dict]) -> None:
    d, expected = corpus
    problems = []
    for name, exp in expected.items():
        path = d / file_of(name)
        if not exp.readable:
            with pytest.raises(ImageReadError) as info:
                read_image(path)
            msg = str(info.value)
            if str(path) not in msg or exp.reason not in msg.lower():
                problems.append(f"{name}: message {msg!r} lacks the path or {exp.reason!r}")
            if exp.header_ok:
                read_image_size(path)  # header intact: sizing works, decoding does not
            else:
                with pytest.raises(ImageReadError):
                    read_image_size(path)
            continue
        img = read_image(path)
        if img.rgb.dtype != np.uint8 or img.rgb.ndim != 3 or img.rgb.shape[2] != 3:
            problems.append(f"{name}: got {img.rgb.dtype} {img.rgb.shape}")
        if img.size != exp.size or img.full_size != exp.size or read_image_size(path) != exp.size:
            problems.append(f"{name}: size {img.size}/{read_image_size(path)} != {exp.size}")
        if img.rgb.shape[:2] != (exp.size[1], exp.size[0]):
            problems.append(f"{name}: array shape {img.rgb.shape} does not match size {exp.size}")
        if img.original_mode != exp.mode:
            problems.append(f"{name}: mode {img.original_mode} != {exp.mode}")
        if img.exif_transposed != exp.exif_transposed:
            problems.append(f"{name}: exif_transposed {img.exif_transposed}")
        (x, y), rgb, tol = exp.probe
        got = img.rgb[y, x].astype(int)
        if np.abs(got - np.array(rgb)).max() > tol:
            problems.append(f"{name}: pixel ({x},{y}) = {tuple(got)}, expected {rgb} ± {tol}")
        if img.rgb.flags.writeable:
            problems.append(f"{name}: result is writable")
    assert not problems, "\n".join(problems)


def test_error_is_a_value_error_naming_file_and_reason(tmp_path: Path) -> None:
    p = tmp_path / "gone.png"
    with pytest.raises(ValueError, match="gone.png.*not found"):
        read_image(p)
    err = ImageReadError(p, "boom")
    again = pickle.loads(pickle.dumps(err))
    assert (again.path, again.reason, str(again)) == (str(p), "boom", str(err))


def _asymmetric() -> np.ndarray:
    a = np.zeros((40, 64, 3), dtype=np.uint8)
    a[:10, :16] = (255, 0, 0)
    a[30:, 40:] = (0, 0, 255)
    a[:, 60:] = (0, 255, 0)
    return a


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tif"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow_exif_transpose(tmp_path: Path, orientation: int, fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"o{orientation}.{fmt}"
    if fmt == "tif":  # TIFF keeps the orientation in its own tags (recent Pillow orients on load)
        Image.fromarray(_asymmetric()).save(p, tiffinfo={0x0112: orientation})
    else:
        Image.fromarray(_asymmetric()).save(p, exif=exif, quality=95, lossless=True)
    with Image.open(p) as im:
        reference = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    img = read_image(p)
    np.testing.assert_array_equal(img.rgb, reference)
    assert img.size == (reference.shape[1], reference.shape[0]) == read_image_size(p)
    assert img.exif_transposed == (orientation != 1)


def test_size_reads_headers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    arr = _asymmetric()
    Image.fromarray(arr).save(tmp_path / "a.jpg", exif=exif)
    Image.fromarray(arr).save(tmp_path / "b.png", exif=exif)
    Image.fromarray(arr).save(tmp_path / "c.tif")
    Image.fromarray(arr).save(tmp_path / "d.webp")
    Image.fromarray(arr).save(tmp_path / "e.bmp")

    def no_decoding(self: object) -> None:
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    sizes = {name: read_image_size(tmp_path / name) for name in ("a.jpg", "b.png", "c.tif", "d.webp", "e.bmp")}
    assert sizes == {"a.jpg": (40, 64), "b.png": (40, 64), "c.tif": (64, 40), "d.webp": (64, 40), "e.bmp": (64, 40)}


def test_png_exif_orientation_is_applied_consistently(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(_asymmetric()).save(tmp_path / "r.png", exif=exif)
    img = read_image(tmp_path / "r.png")
    assert img.size == read_image_size(tmp_path / "r.png") == (40, 64)
    assert tuple(img.rgb[0, -1]) == (255, 0, 0)  # stored top-left corner is now top-right


def test_max_side_uses_reduced_decoding(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    big = Image.new("RGB", (4000, 3000), (30, 140, 220))
    big.save(tmp_path / "big.jpg", quality=90, exif=exif)
    big.save(tmp_path / "big.png", compress_level=1)
    img = read_image(tmp_path / "big.jpg", max_side=641)
    assert img.full_size == (3000, 4000)
    assert max(img.size) == 641 and img.size[0] < img.size[1]
    assert img.rgb.shape == (img.size[1], img.size[0], 3)
    assert np.abs(img.rgb[100, 100].astype(int) - (30, 140, 220)).max() <= 3
    assert img.scale == pytest.approx(641 / 4000, rel=0.01)
    png = read_image(tmp_path / "big.png", max_side=500)
    assert max(png.size) == 500 and png.full_size == (4000, 3000)
    small = read_image(tmp_path / "big.png", max_side=10_000)  # never upscaled
    assert small.size == (4000, 3000)


def test_huge_jpeg_with_max_side_keeps_memory_bounded(tmp_path: Path) -> None:
    """A 51 MP JPEG read for the model must not be decoded at full size (153 MB as RGB)."""
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (8000, 6400), (90, 20, 160)).save(path, quality=80)
    code = textwrap.dedent(f"""
        import resource, sys
        from symnet_core.io.images import read_image
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if sys.argv[1] == "read":
            img = read_image({str(path)!r}, max_side=1024)
            assert max(img.size) == 1024 and img.full_size == (8000, 6400), img.size
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
    """)
    grown = [
        int(subprocess.run([sys.executable, "-c", code, arg], check=True, capture_output=True, text=True).stdout)
        for arg in ("idle", "read")
    ]
    assert grown[1] - grown[0] < 60, f"reading grew RSS by {grown[1]} MB (idle {grown[0]} MB)"


def test_too_many_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    p = tmp_path / "claims.png"
    Image.new("L", (8, 8)).save(p)
    data = bytearray(p.read_bytes())
    # Patch the IHDR width/height (bytes 16..24) to 20000 x 16000 = 320 MP, fix the CRC.
    import struct
    import zlib

    data[16:24] = struct.pack(">II", 20_000, 16_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    p.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's own DecompressionBombWarning
        with pytest.raises(ImageReadError, match="320 MP exceeds the limit"):
            read_image(p)


def test_sixteen_bit_and_float_rules(tmp_path: Path) -> None:
    def roundtrip(arr: np.ndarray, name: str) -> np.ndarray:
        Image.fromarray(arr).save(tmp_path / name)
        return read_image(tmp_path / name).rgb[..., 0]

    twelve = np.array([[0, 1000, 4095]], dtype=np.uint16)
    assert roundtrip(twelve, "a.png").tolist() == [[0, 62, 255]]
    full = np.array([[0, 256, 65535]], dtype=np.uint16)
    assert roundtrip(full, "b.png").tolist() == [[0, 1, 255]]
    eight = np.array([[0, 17, 255]], dtype=np.uint16)
    assert roundtrip(eight, "c.tif").tolist() == [[0, 17, 255]]
    const = np.full((2, 2), 3.5, dtype=np.float32)
    assert roundtrip(const, "d.tif").tolist() == [[0, 0], [0, 0]]
    inf = np.array([[np.inf, 0.0, 2.0, -np.inf]], dtype=np.float32)
    assert roundtrip(inf, "e.tif").tolist() == [[0, 0, 255, 0]]


def test_list_images_filters_and_sorts_naturally(tmp_path: Path) -> None:
    for rel in [
        "img10.jpg",
        "img2.JPG",
        "img1.png",
        "b/x.tiff",
        "a/z.webp",
        "a/Y.bmp",
        "notes.txt",
        ".hidden.png",
        ".symnet/masks/m.png",
        "c/.cache/q.png",
        "d.jpeg",
    ]:
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x")
    assert list_images(tmp_path) == ["a/Y.bmp", "a/z.webp", "b/x.tiff", "d.jpeg", "img1.png", "img2.JPG", "img10.jpg"]
    assert list_images(tmp_path, recursive=False) == ["d.jpeg", "img1.png", "img2.JPG", "img10.jpg"]
    assert sorted(["f10", "f9", "F1"], key=natural_key) == ["F1", "f9", "f10"]
    with pytest.raises(NotADirectoryError):
        list_images(tmp_path / "img1.png")


def test_transparent_pixels_composite_on_the_neutral_background(tmp_path):
    """#18: a cut-out's transparent area is the ImageNet mean colour, not black (same in the GUI)."""
    from PIL import Image

    from symnet_core.io.images import TRANSPARENT_BACKGROUND, composite_on_background, read_image

    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., :3] = (250, 10, 10)
    rgba[:, 3:, 3] = 255  # right half opaque red, left half transparent
    rgba[0, 0, 3] = 128  # half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    rgb = read_image(tmp_path / "cut.png").rgb
    assert tuple(rgb[2, 1]) == TRANSPARENT_BACKGROUND
    assert tuple(rgb[2, 4]) == (250, 10, 10)
    expected = [round((250 * 128 + TRANSPARENT_BACKGROUND[0] * 127) / 255),
                round((10 * 128 + TRANSPARENT_BACKGROUND[1] * 127) / 255),
                round((10 * 128 + TRANSPARENT_BACKGROUND[2] * 127) / 255)]
    assert np.abs(rgb[0, 0].astype(int) - expected).max() <= 1
    assert np.array_equal(composite_on_background(rgba), rgb)
