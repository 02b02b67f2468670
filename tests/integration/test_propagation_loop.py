"""The propagation loop, driven by a fake colour predictor over real image folders."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from symnet_core.project import ImageStatus, Project
from symnet_core.workflows.propagation import PredictorLike, PropagationError, propagate_project

try:
    from tests.bad_images import make_bad_corpus
except ImportError:  # tests/ on sys.path (pytest rootdir-relative import)
    from bad_images import make_bad_corpus

GREY = (128, 128, 128)
RED = (255, 0, 0)
YELLOW = (255, 255, 0)
W, H = 48, 36


@dataclass
class FakePrediction:
    probability: np.ndarray
    mask: np.ndarray
    score: float


class ColourPredictor:
    """Foreground probability = 1 - distance to the supports' mean foreground colour / 300."""

    model_id = "fake-colour"

    def __init__(self, delay: float = 0.0, fail_on: set[tuple[int, int]] | None = None) -> None:
        self.delay = delay
        self.colour: np.ndarray | None = None
        self.class_name = ""
        self.set_calls = 0
        self.seen_sizes: list[tuple[int, int]] = []
        self.fail_on = fail_on or set()

    def set_supports(self, images: list[np.ndarray], masks: list[np.ndarray], class_name: str) -> None:
        assert images and len(images) == len(masks)
        for im, m in zip(images, masks, strict=True):
            assert im.dtype == np.uint8 and im.shape[2] == 3 and m.dtype == bool and m.shape == im.shape[:2]
        self.colour = np.concatenate([im[m] for im, m in zip(images, masks, strict=True)]).mean(axis=0)
        self.class_name = class_name
        self.set_calls += 1

    def predict(self, image: np.ndarray) -> FakePrediction:
        assert self.colour is not None, "set_supports was not called"
        if self.delay:
            time.sleep(self.delay)
        if image.shape[:2] in self.fail_on:
            raise RuntimeError("simulated CUDA out of memory")
        self.seen_sizes.append(image.shape[:2])
        dist = np.linalg.norm(image.astype(np.float32) - self.colour, axis=2)
        prob = np.clip(1.0 - dist / 300.0, 0.0, 1.0).astype(np.float32)
        mask = prob >= 0.5
        return FakePrediction(prob, mask, float(prob[mask].mean()) if mask.any() else 0.0)


def test_colour_predictor_has_the_predictor_interface():
    from tests.protocols import signature_mismatches

    assert signature_mismatches(ColourPredictor, PredictorLike) == []


def _scene(
    patches: list[tuple[tuple[int, int, int, int], tuple[int, int, int]]], size: tuple[int, int] = (W, H)
) -> np.ndarray:
    img = np.empty((size[1], size[0], 3), dtype=np.uint8)
    img[:] = GREY
    for (y0, y1, x0, x1), colour in patches:
        img[y0:y1, x0:x1] = colour
    return img


def _box_mask(box: tuple[int, int, int, int], value: int = 1, size: tuple[int, int] = (W, H)) -> np.ndarray:
    m = np.zeros((size[1], size[0]), dtype=np.uint8)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = value
    return m


def _box(i: int) -> tuple[int, int, int, int]:
    y, x = 2 + (i * 5) % 20, 3 + (i * 7) % 30
    return (y, y + 10, x, x + 12)


def _make_folder(root: Path, n: int) -> None:
    """support.png with a painted red box, q000..q{n-1}.png each with a red box at _box(i)."""
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_scene([((5, 15, 5, 20), RED)])).save(root / "support.png")
    for i in range(n):
        Image.fromarray(_scene([(_box(i), RED)])).save(root / f"q{i:03d}.png")


def _project(root: Path, n: int = 6) -> Project:
    _make_folder(root, n)
    p = Project.create(root, classes=["red"])
    p.set_mask("support.png", _box_mask((5, 15, 5, 20)), status="support")
    return p


@pytest.fixture
def project(tmp_path: Path):
    p = _project(tmp_path / "f")
    yield p
    p.close(save=False)


def test_single_class_propagation_stores_every_result(project: Project) -> None:
    seen: list[tuple[int, int, str]] = []
    support_before = (project.masks_dir / project.image("support.png").mask).read_bytes()
    report = propagate_project(project, ColourPredictor, progress=lambda d, t, k: seen.append((d, t, k)))
    keys = [f"q{i:03d}.png" for i in range(6)]
    assert report.predicted == keys and report.total == 6 and not report.cancelled
    assert seen == [(i + 1, 6, k) for i, k in enumerate(keys)]
    for i, k in enumerate(keys):
        rec = project.image(k)
        assert rec.status is ImageStatus.PREDICTED and rec.model == "fake-colour" and rec.run_id == report.run_id
        assert rec.confidence == pytest.approx(1.0)
        np.testing.assert_array_equal(project.get_mask(k), _box_mask(_box(i)))
    assert (project.masks_dir / project.image("support.png").mask).read_bytes() == support_before
    assert project.runs[-1].state == "finished" and project.runs[-1].predicted == 6
    assert "6/6 predicted" in report.summary()


def _two_class_project(root: Path) -> Project:
    root.mkdir(parents=True)
    # The support holds both classes; the query has an orange-red patch (closer to red) and an
    # orange-yellow patch (closer to yellow): both are candidates for both classes at 0.4.
    Image.fromarray(_scene([((2, 12, 2, 14), RED), ((20, 30, 20, 34), YELLOW)])).save(root / "a_support.png")
    Image.fromarray(_scene([((2, 12, 2, 14), (255, 100, 0)), ((20, 30, 20, 34), (255, 170, 0))])).save(
        root / "b_query.png"
    )
    p = Project.create(root, classes=["red", "yellow"])
    m = _box_mask((2, 12, 2, 14), 1)
    m[20:30, 20:34] = 2
    p.set_mask("a_support.png", m, status="support")
    return p


@pytest.mark.parametrize("kind", ["factory", "mapping", "shared"])
def test_overlaps_go_to_the_most_probable_class(tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    p = _two_class_project(tmp_path / kind)
    shared = ColourPredictor()
    if kind == "factory":
        source = ColourPredictor
    elif kind == "mapping":
        source = {}
        for cid, colour in ((1, RED), (2, YELLOW)):
            pred = ColourPredictor()
            pred.set_supports([_scene([((0, 5, 0, 5), colour)])], [_box_mask((0, 5, 0, 5)).astype(bool)], "x")
            source[cid] = pred
    else:
        source = shared
    with caplog.at_level(logging.WARNING):
        report = propagate_project(p, source, threshold=0.4)
    assert report.predicted == ["b_query.png"] and report.classes == [1, 2]
    expected = _box_mask((2, 12, 2, 14), 1)
    expected[20:30, 20:34] = 2
    np.testing.assert_array_equal(p.get_mask("b_query.png"), expected)
    if kind == "shared":
        assert shared.set_calls == 2 and "re-encoded" in caplog.text
    p.close()


def test_human_verified_masks_are_never_overwritten(project: Project) -> None:
    project.set_mask("q000.png", _box_mask((0, 3, 0, 3)))  # edited
    project.set_mask("q001.png", _box_mask((0, 4, 0, 4)), status="accepted")  # accepted
    project.store_prediction("q002.png", _box_mask((0, 5, 0, 5)), confidence=0.1)
    project.set_status("q002.png", "rejected")  # rejected: re-predicted
    project.store_prediction("q003.png", _box_mask((0, 6, 0, 6)), confidence=0.1)  # stale prediction
    protected = {
        k: (project.masks_dir / project.image(k).mask).read_bytes() for k in ("support.png", "q000.png", "q001.png")
    }

    report = propagate_project(project, ColourPredictor, scope="unlabelled")
    assert report.predicted == ["q004.png", "q005.png"] and not report.skipped_protected

    report = propagate_project(project, ColourPredictor, scope="selected", selected=["q001.png", "q002.png"])
    assert report.predicted == ["q002.png"] and report.skipped_protected == ["q001.png"]

    report = propagate_project(project, ColourPredictor, scope="all")
    assert sorted(report.skipped_protected) == ["q000.png", "q001.png", "support.png"]
    assert sorted(report.predicted) == ["q002.png", "q003.png", "q004.png", "q005.png"]
    for k, data in protected.items():
        assert (project.masks_dir / project.image(k).mask).read_bytes() == data
    np.testing.assert_array_equal(project.get_mask("q003.png"), _box_mask(_box(3)))
    with pytest.raises(ValueError, match="not in the project"):
        propagate_project(project, ColourPredictor, scope="selected", selected=["nope.png"])


def test_mask_painted_during_the_run_is_kept(project: Project) -> None:
    def paint_next(done: int, total: int, key: str) -> None:
        if done == 2:
            project.set_mask("q002.png", _box_mask((1, 2, 1, 2)))  # user paints the next image

    report = propagate_project(project, ColourPredictor, progress=paint_next)
    assert report.skipped_protected == ["q002.png"] and len(report.predicted) == 5
    np.testing.assert_array_equal(project.get_mask("q002.png"), _box_mask((1, 2, 1, 2)))


def test_bad_files_are_reported_and_skipped(project: Project, tmp_path: Path) -> None:
    expected = make_bad_corpus(project.images_root / "bad")
    project.close()
    with Project.open(project.images_root) as p:
        report = propagate_project(p, ColourPredictor)
        unreadable = {f"bad/{n}" for n, e in expected.items() if not e.readable}
        assert set(report.unreadable) == unreadable
        assert all(report.unreadable[k] for k in unreadable)
        assert "truncated" in report.unreadable["bad/truncated.jpg"]
        assert "truncated" in p.image("bad/truncated.jpg").error
        readable = {f"bad/{n.split('#')[0]}" for n, e in expected.items() if e.readable}
        assert readable | {f"q{i:03d}.png" for i in range(6)} == set(report.predicted)
        for k in readable:
            assert p.get_mask(k).shape == p.image_size(k)[::-1]


def test_cancel_then_resume(project: Project) -> None:
    cancel = threading.Event()
    report = propagate_project(
        project, ColourPredictor, scope="all", cancel=cancel, progress=lambda d, t, k: cancel.set() if d == 3 else None
    )
    assert report.cancelled and len(report.predicted) == 3 and project.runs[-1].state == "cancelled"
    again = propagate_project(project, ColourPredictor, scope="all")
    assert again.resumed and again.run_id == report.run_id
    assert again.skipped_done == report.predicted and len(again.predicted) == 3
    assert project.runs[-1].state == "finished" and project.runs[-1].predicted == 6
    fresh = propagate_project(project, ColourPredictor, scope="all", threshold=0.6)  # other inputs
    assert not fresh.resumed and fresh.run_id != report.run_id and len(fresh.predicted) == 6


def test_predictor_errors(project: Project) -> None:
    report = propagate_project(project, lambda: ColourPredictor(fail_on={(H, W)}), max_consecutive_failures=10)
    assert len(report.failed) == 6 and "out of memory" in report.failed["q000.png"]
    with pytest.raises(PropagationError, match="3 images in a row"):
        propagate_project(project, lambda: ColourPredictor(fail_on={(H, W)}), max_consecutive_failures=3)
    assert project.runs[-1].state == "failed"


def test_no_support_is_a_clear_error(tmp_path: Path) -> None:
    _make_folder(tmp_path / "f", 2)
    with Project.create(tmp_path / "f", classes=["red"]) as p, pytest.raises(PropagationError, match="no support"):
        propagate_project(p, ColourPredictor)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_loader_pool_gives_the_same_results_in_the_same_order(tmp_path: Path, batch_size: int) -> None:
    runs = {}
    for workers in (0, 2):
        root = tmp_path / f"w{workers}"
        p = _project(root, 11)
        (root / "q005.png").write_bytes(b"not a png")  # unreadable: reported, never fatal
        seen: list[str] = []
        report = propagate_project(p, ColourPredictor, batch_size=batch_size, loader_workers=workers,
                                   progress=lambda d, t, k, seen=seen: seen.append(k))  # fmt: skip
        runs[workers] = (report.predicted, sorted(report.unreadable), seen,
                         {k: p.get_mask(k) for k in report.predicted})  # fmt: skip
        p.close()
    (pred0, bad0, seen0, masks0), (pred2, bad2, seen2, masks2) = runs[0], runs[2]
    assert pred0 == pred2 and len(pred0) == 10 and bad0 == bad2 == ["q005.png"] and seen0 == seen2
    assert all(np.array_equal(masks0[k], masks2[k]) for k in pred0)


def test_loader_pool_stops_on_cancel(tmp_path: Path) -> None:
    p = _project(tmp_path / "c", 12)
    cancel = threading.Event()

    def progress(done: int, total: int, key: str) -> None:
        if done == 4:
            cancel.set()

    report = propagate_project(p, ColourPredictor, batch_size=2, loader_workers=2, progress=progress, cancel=cancel)
    assert report.cancelled and len(report.predicted) == 4
    with pytest.raises(ValueError, match="loader_workers"):
        propagate_project(p, ColourPredictor, loader_workers=-1)
    p.close()


def test_large_images_are_predicted_at_max_side_and_stored_full_size(tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    size = (1600, 1200)
    Image.fromarray(_scene([((100, 500, 100, 700), RED)], size)).save(root / "s.png")
    Image.fromarray(_scene([((600, 1000, 800, 1400), RED)], size)).save(root / "t.png")
    pred = ColourPredictor()
    with Project.create(root, classes=["red"]) as p:
        p.set_mask("s.png", _box_mask((100, 500, 100, 700), 1, size), status="support")
        propagate_project(p, pred, max_side=400)
        assert pred.seen_sizes == [(300, 400)]
        mask = p.get_mask("t.png")
        assert mask.shape == (1200, 1600)
        iou = (
            np.logical_and(mask, _box_mask((600, 1000, 800, 1400), 1, size)).sum()
            / np.logical_or(mask, _box_mask((600, 1000, 800, 1400), 1, size)).sum()
        )
        assert iou > 0.98


KILL_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[2])
from test_propagation_loop import ColourPredictor
from symnet_core.project import Project
from symnet_core.workflows.propagation import propagate_project

project = Project.open(sys.argv[1])
propagate_project(project, lambda: ColourPredictor(delay=0.04),
                  progress=lambda done, total, key: print(done, flush=True))
print("FINISHED", flush=True)
"""


def test_kill_9_mid_propagation_loses_nothing_and_resumes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "kill"
    n = 30
    p = _project(root, n)
    p.set_mask("q000.png", _box_mask((0, 4, 0, 4)), status="accepted")
    p.set_mask("q001.png", _box_mask((1, 5, 1, 9)))  # edited
    human = {k: (p.image(k).status, p.get_mask(k)) for k in ("support.png", "q000.png", "q001.png")}
    p.close()

    stop_after = random.Random(os.getpid()).randint(2, 20)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(root), str(Path(__file__).resolve().parent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.strip().isdigit() and int(line) >= stop_after:
                time.sleep(random.uniform(0.0, 0.04))  # land anywhere in the next image
                break
        else:
            pytest.fail(f"propagation ended early: {proc.stderr.read()}")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with caplog.at_level(logging.WARNING), Project.open(root) as p:
        assert "stale lock" in caplog.text
        for k, (status, mask) in human.items():
            assert p.image(k).status is status
            np.testing.assert_array_equal(p.get_mask(k), mask)
        done = [r.path for r in p.images if r.status is ImageStatus.PREDICTED]
        assert len(done) >= stop_after
        for k in done:
            np.testing.assert_array_equal(p.get_mask(k), _box_mask(_box(int(k[1:4]))))
        assert p.runs[-1].state == "running"  # killed: never marked finished

        report = propagate_project(p, ColourPredictor)
        assert report.resumed and len(report.predicted) == n - 2 - len(done)
        for i in range(2, n):
            k = f"q{i:03d}.png"
            assert p.image(k).status is ImageStatus.PREDICTED
            np.testing.assert_array_equal(p.get_mask(k), _box_mask(_box(i)))
        assert p.runs[-1].state == "finished" and p.runs[-1].predicted == n - 2


def test_batched_propagation_matches_one_by_one(tmp_path):
    """batch_size > 1 (predict_many) stores the same masks as one image at a time."""
    import shutil

    import numpy as np

    from symnet_core.inference.predictor import Predictor
    from symnet_core.project import ImageStatus, Project
    from symnet_core.workflows.propagation import propagate_project
    from tests.model_helpers import scene, tiny_model

    model = tiny_model(1)
    base = tmp_path / "a"
    base.mkdir()
    import cv2

    for i in range(5):
        img, m = scene(80, 100, seed=i)
        cv2.imwrite(str(base / f"i{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if i == 0:
            first = m
    shutil.copytree(base, tmp_path / "b")
    results = {}
    for name, bs in (("a", 1), ("b", 3)):
        with Project.create(tmp_path / name, classes=["x"]) as project:
            project.set_mask("i0.png", first.astype(np.uint8))
            project.set_support("i0.png")
            report = propagate_project(project, lambda: Predictor(model, "cpu"), batch_size=bs)
            assert len(report.predicted) == 4
            results[name] = {r.path: project.get_mask(r.path) for r in project.images
                             if r.status is ImageStatus.PREDICTED}
    for key, mask in results["a"].items():
        assert (results["b"][key] == mask).mean() > 0.999
