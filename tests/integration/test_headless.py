"""The headless loop end to end with a real (tiny) Sym-Net checkpoint: propagate → export → validate → import."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from symnet_core.cli.annotate import main
from symnet_core.model.checkpoints import save_checkpoint
from symnet_core.project import ImageStatus, Project
from tests.model_helpers import scene, tiny_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    save_checkpoint(tiny_model(1), path, dataset="synthetic",
                    text_encoder={"kind": "hashed", "salt": "symnet-synthetic"})
    return path


def _folder(root: Path, n: int) -> list[np.ndarray]:
    masks = []
    for i in range(n):
        img, mask = scene(90 + 10 * (i % 3), 120, seed=i, box=(0.2, 0.2 + 0.05 * i, 0.7, 0.8))
        cv2.imwrite(str(root / f"img_{i:02d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        masks.append(mask)
    return masks


def test_project_propagate_export_validate(tmp_path, checkpoint, capsys):
    masks = _folder(tmp_path, 6)
    with Project.create(tmp_path, classes=["blob"]) as project:
        project.set_mask("img_00.png", masks[0].astype(np.uint8))
        project.set_support("img_00.png")
        project.set_mask("img_01.png", masks[1].astype(np.uint8), status="accepted")
    rc = main(["propagate", "--project", str(tmp_path), "--checkpoint", str(checkpoint), "--device", "cpu",
               "--batch-size", "2", "--loader-workers", "2"])
    assert rc == 0, capsys.readouterr()
    with Project.open(tmp_path, read_only=True) as project:
        statuses = {r.path: r.status for r in project.images}
        assert statuses["img_00.png"] == ImageStatus.SUPPORT
        assert statuses["img_01.png"] == ImageStatus.ACCEPTED  # human-verified: never overwritten
        assert np.array_equal(project.get_mask("img_01.png"), masks[1].astype(np.uint8))
        predicted = [k for k, s in statuses.items() if s == ImageStatus.PREDICTED]
        assert sorted(predicted) == [f"img_{i:02d}.png" for i in range(2, 6)]
        assert all(project.image(k).confidence is not None for k in predicted)

    out = tmp_path / "export" / "coco.json"
    rc = main(["export", "--project", str(tmp_path), "--format", "coco", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    data = json.loads(out.read_text())
    assert {c["name"] for c in data["categories"]} == {"blob"}
    assert len(data["images"]) >= 2
    assert main(["validate", str(out), "--images", str(tmp_path)]) == 0

    only = tmp_path / "export" / "accepted.json"
    assert main(["export", "--project", str(tmp_path), "--only-accepted", "--out", str(only)]) == 0
    names = {im["file_name"] for im in json.loads(only.read_text())["images"]}
    assert names == {"img_00.png", "img_01.png"}

    pngs = tmp_path / "export" / "png"
    assert main(["export", "--project", str(tmp_path), "--format", "png", "--out", str(pngs)]) == 0
    assert (pngs / "masks" / "img_01.png").is_file()
    assert (pngs / "classes.json").is_file()


def test_adapt_command_saves_a_head_that_propagation_uses(tmp_path, checkpoint, capsys):
    masks = _folder(tmp_path, 4)
    with Project.create(tmp_path, classes=["blob", "empty"]) as project:
        for i in (0, 1):
            project.set_mask(f"img_0{i}.png", masks[i].astype(np.uint8), status="support")
    model = ["--checkpoint", str(checkpoint), "--device", "cpu"]
    rc = main(["adapt", "--project", str(tmp_path), "--steps", "2", "--revert-tolerance", "1", *model])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "blob: adapted on 2 support(s), 2 steps (leave-one-out)" in out and "empty: skipped (no supports)" in out
    head = tmp_path / ".symnet" / "adapted" / "class-1.pth"
    assert head.is_file()
    assert main(["propagate", "--project", str(tmp_path), *model]) == 0
    assert "adapted head used for 1 class(es)" in capsys.readouterr().out
    assert main(["adapt", "--project", str(tmp_path), "--class", "nope", *model]) == 2
    assert main(["adapt", "--project", str(tmp_path), "--class", "blob", "--reset"]) == 0
    assert "blob: adapted head removed" in capsys.readouterr().out and not head.exists()


def test_import_coco_into_new_project_as_supports(tmp_path, checkpoint, capsys):
    src = tmp_path / "src"
    src.mkdir()
    masks = _folder(src, 3)
    with Project.create(src, classes=["blob"]) as project:
        for i, m in enumerate(masks):
            project.set_mask(f"img_{i:02d}.png", m.astype(np.uint8), status="accepted")
    coco = tmp_path / "c.json"
    assert main(["export", "--project", str(src), "--out", str(coco)]) == 0
    dst = tmp_path / "dst"
    dst.mkdir()
    _folder(dst, 3)
    assert main(["import", "--project", str(dst), "--coco", str(coco), "--as-supports"]) == 0
    with Project.open(dst, read_only=True) as project:
        assert [c.name for c in project.classes] == ["blob"]
        for i, m in enumerate(masks):
            got = project.get_mask(f"img_{i:02d}.png")
            assert np.array_equal(got > 0, m)
        assert len(project.supports()) == 3


def test_folder_to_folder_with_bad_file(tmp_path, checkpoint, capsys):
    sup, msk, imgs, out = (tmp_path / d for d in ("sup", "msk", "imgs", "out"))
    for d in (sup, msk, imgs):
        d.mkdir()
    masks = _folder(sup, 2)
    for i, m in enumerate(masks):
        cv2.imwrite(str(msk / f"img_{i:02d}.png"), m.astype(np.uint8) * 255)
    _folder(imgs, 3)
    (imgs / "broken.jpg").write_bytes(b"not a jpeg")
    rc = main([
        "propagate", "--supports", str(sup), "--masks", str(msk), "--images", str(imgs), "--class", "blob",
        "--out", str(out), "--checkpoint", str(checkpoint), "--device", "cpu",
    ])
    text = capsys.readouterr().out
    assert rc == 1, text  # finished, one unreadable file listed
    assert "broken.jpg" in text
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == ["img_00.png", "img_01.png", "img_02.png"]
    m = cv2.imread(str(out / "img_00.png"), cv2.IMREAD_UNCHANGED)
    assert m.shape == (90, 120)
    assert set(np.unique(m)) <= {0, 255}


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["propagate", "--project", str(tmp_path)]) == 2
    assert main(["propagate", "--images", str(tmp_path)]) == 2
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.pth"
    bad.write_text("junk")
    _folder(tmp_path, 1)
    with Project.create(tmp_path, classes=["a"]):
        pass
    assert main(["propagate", "--project", str(tmp_path), "--checkpoint", str(bad)]) == 2
    assert "bad.pth" in capsys.readouterr().err


def test_bad_file_corpus_goes_through_propagate_and_export(tmp_path, checkpoint, capsys):
    """Truncated/zero-byte/fake JPEGs, 16-bit TIFF, CMYK, EXIF-rotated, 1×1...: listed, never fatal."""
    from tests.bad_images import file_of, make_bad_corpus

    masks = _folder(tmp_path, 2)
    expected = make_bad_corpus(tmp_path / "bad")
    with Project.create(tmp_path, classes=["blob"]) as project:
        project.set_mask("img_00.png", masks[0].astype(np.uint8))
        project.set_support("img_00.png")
    rc = main(["propagate", "--project", str(tmp_path), "--checkpoint", str(checkpoint), "--device", "cpu"])
    out = capsys.readouterr().out
    unreadable = {file_of(k) for k, e in expected.items() if not e.readable}
    assert rc == (1 if unreadable else 0), out
    for name in unreadable:
        assert f"bad/{name}" in out
    with Project.open(tmp_path, read_only=True) as project:
        readable = [f"bad/{file_of(k)}" for k, e in expected.items() if e.readable]
        for key in readable:
            if key in project:
                assert project.image(key).status == ImageStatus.PREDICTED, key
                w, h = project.image_size(key)
                assert project.get_mask(key).shape == (h, w)
    coco = tmp_path / "all.json"
    assert main(["export", "--project", str(tmp_path), "--out", str(coco)]) == 0
    assert main(["validate", str(coco), "--images", str(tmp_path)]) == 0


def test_ctrl_c_saves_and_exits_cleanly_then_resumes(tmp_path, checkpoint):
    """SIGINT during a headless run: exit 130, finished images kept, the next run resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    masks = _folder(tmp_path, 40)
    with Project.create(tmp_path, classes=["blob"]) as project:
        project.set_mask("img_00.png", masks[0].astype(np.uint8))
        project.set_support("img_00.png")
    cmd = [sys.executable, "-m", "symnet_core.cli.annotate", "propagate", "--project", str(tmp_path),
           "--checkpoint", str(checkpoint), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    masks_dir = tmp_path / ".symnet" / "masks"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(list(masks_dir.glob("*.png"))) < 4:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    with Project.open(tmp_path, read_only=True) as project:
        done = [r.path for r in project.images if r.status == ImageStatus.PREDICTED]
    assert 0 < len(done) < 39
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{39 - len(done)}/{39 - len(done)} predicted" in rerun.stdout  # only what was left
    with Project.open(tmp_path, read_only=True) as project:
        assert sum(r.status == ImageStatus.PREDICTED for r in project.images) == 39


def test_batch_size_gives_the_same_masks(tmp_path, checkpoint):
    sup, msk, imgs = (tmp_path / d for d in ("sup", "msk", "imgs"))
    for d in (sup, msk, imgs):
        d.mkdir()
    masks = _folder(sup, 1)
    cv2.imwrite(str(msk / "img_00.png"), masks[0].astype(np.uint8) * 255)
    _folder(imgs, 5)
    outs = {}
    for bs in (1, 3):
        out = tmp_path / f"out{bs}"
        rc = main(["propagate", "--supports", str(sup), "--masks", str(msk), "--images", str(imgs), "--class", "b",
                   "--out", str(out), "--checkpoint", str(checkpoint), "--device", "cpu", "--batch-size", str(bs)])
        assert rc == 0
        outs[bs] = {p.name: cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(out.glob("*.png"))}
    assert outs[1].keys() == outs[3].keys()
    assert len(outs[1]) == 5
    for name in outs[1]:
        assert (outs[1][name] == outs[3][name]).mean() > 0.999, name


def test_runtime_text_embedder_is_the_one_training_used():
    """The app must feed a synthetic-data model the same class vectors it was trained with."""
    from symnet_core.inference.loading import build_text_embedder
    from symnet_core.training.config import TextConfig
    from symnet_core.training.text import build_embedder, text_encoder_metadata

    cfg = TextConfig(kind="hashed", dim=32)
    trained = build_embedder(cfg)
    runtime, warnings = build_text_embedder(text_encoder_metadata(cfg, 32), 32)
    assert warnings == []
    for name in ("green dotted tile", "Cell", "potted_plant"):
        assert np.array_equal(trained.embed(name)[0], runtime.embed(name)[0])


def test_adapt_command_defaults_are_the_library_defaults():
    from symnet_core.adaptation.head_tuning import AdaptConfig
    from symnet_core.cli.annotate import build_parser

    args = build_parser().parse_args(["adapt", "--project", "p"])
    cfg = AdaptConfig()
    assert (args.steps, args.lr, args.revert_tolerance) == (cfg.steps, cfg.lr, cfg.revert_tolerance)


def test_resize_option_defaults_to_the_checkpoint_and_accepts_both_modes():
    from symnet_core.cli.annotate import build_parser

    for command in (["propagate", "--project", "p"], ["adapt", "--project", "p"]):
        assert build_parser().parse_args(command).resize is None  # the checkpoint's own mode
        for mode in ("fit", "shrink-only"):
            assert build_parser().parse_args([*command, "--resize", mode]).resize == mode
        with pytest.raises(SystemExit):
            build_parser().parse_args([*command, "--resize", "upscale"])
