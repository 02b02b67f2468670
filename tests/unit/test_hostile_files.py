"""Issue #20: odd files in an images folder are named, and one image-size policy holds everywhere."""

from __future__ import annotations

import builtins
import errno
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import symnet_core.io.images as images_mod
from symnet_core.io.images import MAX_PIXELS, ImageReadError, list_images, pixel_limit_error, read_image
from symnet_core.io.importers import read_label_png
from symnet_core.project import Project, ProjectFormatError
from symnet_core.project.masks import decode_mask, encode_mask

ROOT = Path(__file__).resolve().parents[2]


def test_dangling_links_loops_and_fifos_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (tmp_path / "loop1.png").symlink_to(tmp_path / "loop2.png")
    (tmp_path / "loop2.png").symlink_to(tmp_path / "loop1.png")
    os.mkfifo(tmp_path / "pipe.png")
    skipped: dict[str, str] = {}
    with caplog.at_level(logging.WARNING):
        assert list_images(tmp_path, skipped=skipped) == ["ok.png"]
    assert "dangling" in skipped["dangling.jpg"]
    assert "loop" in skipped["loop1.png"] and "loop" in skipped["loop2.png"]
    assert "FIFO" in skipped["pipe.png"]
    for name in skipped:
        assert name in caplog.text
    # the project open names them too (and never blocks on the FIFO)
    with caplog.at_level(logging.WARNING), Project.create(tmp_path, classes=["a"]) as p:
        assert [r.path for r in p.images] == ["ok.png"]
    assert "pipe.png" in caplog.text


def test_unreadable_permission_is_reported_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection (tests run as root here, and root reads any file): the open of the image
    file fails with EACCES, as for a chmod 000 file of another user."""
    path = tmp_path / "locked.png"
    Image.new("RGB", (4, 4)).save(path)
    real = builtins.open

    def fake_open(file, *a, **k):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real(file, *a, **k)

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(ImageReadError, match="permission denied") as err:
        read_image(path)
    assert "corrupt" not in str(err.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_permission_real_chmod(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    Image.new("RGB", (4, 4)).save(path)
    path.chmod(0)
    with pytest.raises(ImageReadError, match="permission denied"):
        read_image(path)


def test_size_policy_is_one_function() -> None:
    assert pixel_limit_error(20000, 15000) is None  # 300 MP: the limit itself is accepted
    assert "exceeds the limit" in pixel_limit_error(20000, 15001)
    assert "invalid size" in pixel_limit_error(0, 5)


def test_masks_of_accepted_images_read_back_whatever_pillow_limit_was(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: Pillow's default limit (89 MP, error above 178 MP) refused masks of accepted
    200 MP images unless the process had read an image first. Shrunk here: Pillow's limit is set
    to 100 pixels and the mask has 60 x 50 = 3000 (> 2 x 100: a DecompressionBombError before)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    mask = np.zeros((50, 60), np.uint8)
    mask[10:20, 5:50] = 3
    path = tmp_path / "m.png"
    path.write_bytes(encode_mask(mask, {3: "#ff0000"}))
    assert np.array_equal(decode_mask(path), mask)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert np.array_equal(read_label_png(path), mask)


def test_everything_above_the_limit_is_refused_by_every_reader(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images_mod, "MAX_PIXELS", 2999)
    path = tmp_path / "m.png"
    path.write_bytes(encode_mask(np.zeros((50, 60), np.uint8)))
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_image(path)
    with pytest.raises(ProjectFormatError, match="exceeds the limit"):
        decode_mask(path)
    with pytest.raises(ValueError, match="exceeds the limit"):
        read_label_png(path)


def test_bench_figure_quoted_in_security_doc_matches_the_raw_json() -> None:
    raw = json.loads((ROOT / "bench" / "results" / "big_image.json").read_text())
    before = json.loads((ROOT / "bench" / "results" / "big_image_before.json").read_text())
    doc = (ROOT / "docs" / "security.md").read_text()
    assert raw["megapixels"] == MAX_PIXELS / 1e6 and raw["exit_code"] == 0 and raw["readback_ok"]
    assert raw["peak_rss_mb"] < 1024
    assert f"{raw['peak_rss_mb']:.0f} MB" in doc
    assert f"{raw['readback_peak_rss_mb']:.0f} MB" in doc
    assert f"{before['peak_rss_mb']:.0f} MB" in doc
