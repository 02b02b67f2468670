"""Drive the real app on a (virtual) screen and save screenshots to ``docs/screenshots/``.

Usage::

    python scripts/screenshots.py [--checkpoint FILE] [--out docs/screenshots]

Without a ``DISPLAY`` it re-runs itself under ``xvfb-run`` (Debian: ``apt-get install -y xvfb
xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0``); with ``--offscreen`` it uses Qt's
offscreen platform instead. The scenario: open a generated demo folder, paint a support with
the brush, propagate, review one image, the list sorted by "Suggested next" after J, the review
grid sorted by confidence, the uncertainty overlay, an export with its validation report, the
shortcut list.

The model is ``--checkpoint``, else the bundled demo model (``symnet_core/assets/demo/demo_model.pth``)
when it exists, else a clearly labelled *stand-in* (colour similarity to the supports) so the
UI can be shown before a trained model is available.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
log = logging.getLogger("screenshots")


def _reexec_under_xvfb(argv: list[str]) -> int | None:
    if os.environ.get("DISPLAY") or "--offscreen" in argv or os.environ.get("SYMNET_SCREENSHOTS_CHILD"):
        return None
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        log.warning("no DISPLAY and no xvfb-run: falling back to the offscreen platform")
        return None
    env = {**os.environ, "SYMNET_SCREENSHOTS_CHILD": "1"}
    cmd = [xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, __file__, *argv]
    return subprocess.call(cmd, env=env)


class StandInPredictor:
    """Colour similarity to the supports' foreground — NOT Sym-Net; for screenshots only."""

    model_id = "stand-in (colour similarity)"

    def __init__(self, threshold: float, delay: float) -> None:
        self.threshold = threshold
        self.delay = delay
        self._mean: np.ndarray | None = None
        self._spread = 60.0

    def set_supports(self, images: list[np.ndarray], masks: list[np.ndarray], class_name: str) -> None:
        pix = np.concatenate([im[m] for im, m in zip(images, masks, strict=True)]).astype(np.float32)
        self._mean = pix.mean(axis=0)
        self._spread = float(np.linalg.norm(pix - self._mean, axis=1).mean()) * 2.5 + 20

    def predict(self, image: np.ndarray, *, cancel: object = None) -> object:
        import cv2

        from symnet_core.inference.types import Prediction

        time.sleep(self.delay)
        assert self._mean is not None
        dist = np.linalg.norm(image.astype(np.float32) - self._mean, axis=2)
        prob = np.clip(1.2 - dist / self._spread, 0, 1).astype(np.float32)
        prob = cv2.GaussianBlur(prob, (0, 0), 1.5)
        region = prob > self.threshold / 2
        certainty = np.abs(prob - self.threshold) / max(self.threshold, 1 - self.threshold)
        score = float(certainty[region].mean()) if region.any() else float(certainty.mean())
        return Prediction(prob, prob > self.threshold, score, self.threshold)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    code = _reexec_under_xvfb(argv)
    if code is not None:
        return code
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", help="a Sym-Net checkpoint (default: the demo model, else a stand-in)")
    p.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    p.add_argument("--offscreen", action="store_true")
    p.add_argument("--images", type=int, default=36)
    args = p.parse_args(argv)
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    work = Path(tempfile.mkdtemp(prefix="symnet-shots-"))
    os.environ["SYMNET_ANNOTATE_HOME"] = str(work / "home")
    sys.path.insert(0, str(REPO))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from symnet_core.training.synthetic import make_demo_folder
    from symnet_gui.app import create_app
    from symnet_gui.main_window import MainWindow
    from symnet_gui.platform.settings import AppSettings
    from symnet_gui.services.backend import FactoryBackend
    from symnet_gui.services.inference_service import InferenceService
    from symnet_gui.services.types import ModelInfo
    from symnet_gui.widgets.help_dialog import HelpDialog

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = create_app()

    def pump(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait(cond: object, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:  # type: ignore[operator]
            pump(0.05)

    def shot(widget: object, name: str) -> None:
        pump(0.4)
        path = out / name
        widget.grab().save(str(path))  # type: ignore[attr-defined]
        log.info("wrote %s", path)

    from symnet_core.assets import demo_model_path

    checkpoint = args.checkpoint or str(demo_model_path())
    real = Path(checkpoint).is_file()
    backend = None
    if not real:
        backend = FactoryBackend(lambda t, b: StandInPredictor(t, 0.12), ModelInfo(
            "stand-in", "STAND-IN model for screenshots (colour similarity, not Sym-Net)", "cpu",
            "none", ("No trained demo model in symnet_core/assets/demo/ yet: predictions come from a stand-in.",)))
        log.warning("no checkpoint: using the stand-in predictor")
    folder = work / "demo-folder"
    manifest = make_demo_folder(folder, n_images=args.images)
    gt_dir = folder / ".groundtruth"

    settings = AppSettings(path=work / "settings.yaml", brush_size=14)
    window = MainWindow(settings, InferenceService(backend) if backend else None)
    window.resize(1600, 1000)
    window.show()
    pump(0.5)
    shot(window, "01-start.png")

    window.open_folder(folder)
    window.load_checkpoint(checkpoint if real else "stand-in.pth", "demo model" if real else "stand-in")
    wait(lambda: window.document.current_mask is not None)
    doc, canvas = window.document, window.canvas
    window.class_ops.rename_class(doc.classes[0].id, str(manifest["class_name"]))
    window.class_ops.recolor_class(doc.classes[0].id, "#3cd8f0")  # a colour that stands out against magenta stars
    window.toasts.clear()

    # paint a support: brush strokes along the object, then the rest as the user would finish it
    from PIL import Image

    key = "demo_000.png"
    doc.select(key)
    wait(lambda: doc.current_key == key and not doc.loading)
    gt = np.asarray(Image.open(gt_dir / key)) > 0
    ys, xs = np.nonzero(gt)
    vp = canvas.viewport()

    def view_pt(x: float, y: float) -> QPoint:
        return canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))

    order = np.argsort(ys)
    pts = list(zip(xs[order][::max(1, len(order) // 12)], ys[order][::max(1, len(order) // 12)], strict=True))
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_pt(*pts[0]))
    for x, y in pts[1:]:
        QTest.mouseMove(vp, view_pt(x, y))
        pump(0.01)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_pt(*pts[-1]))
    painted = doc.current_mask.copy()
    painted[gt] = doc.current_class
    painted[~gt] = 0
    doc.replace_mask(painted, "Paint")
    QTest.mouseMove(vp, view_pt(float(xs.mean()) + 30, float(ys.mean())))
    window.toasts.clear()
    shot(window, "02-paint-support.png")
    window.commands["review.support"].trigger()  # S (under Xvfb without a window manager the
    # window is never "active", so window shortcuts are triggered through their actions here)
    for extra in ("demo_001.png",):
        m = (np.asarray(Image.open(gt_dir / extra)) > 0).astype(np.uint8) * doc.current_class
        doc.project.set_mask(extra, m, status="support")
    doc.refresh(("demo_001.png",))
    wait(lambda: window.service.model_state == "ready", 120)

    # propagate; capture while it runs
    window.propagation.set_scope("unlabelled")
    window.commands["model.propagate"].trigger()
    wait(lambda: window.propagation.progress.value() >= min(8, args.images // 3), 120)
    shot(window, "03-propagating.png")
    wait(lambda: not window.service.propagation_running, 600)
    pump(1.0)

    # review one prediction
    window.images.set_filter(1)
    window.images.sort_box.setCurrentIndex(1)  # lowest confidence first
    keys = window.images.ordered_keys()
    if keys:
        doc.select(keys[len(keys) // 2])
        wait(lambda: not doc.loading)
    window.toasts.clear()
    shot(window, "04-review.png")

    # which image next: the list sorted by the suggestion, J jumps to its top
    window.images.set_filter(0)
    window.images.set_sort_mode("suggested")
    wait(lambda: window.suggest.order is not None, 60)
    window.commands["review.next_suggested"].trigger()
    top = window.suggest.order.next_after(doc.current_key)
    wait(lambda: top is None or (doc.current_key == top and not doc.loading), 60)
    window.toasts.clear()
    shot(window, "09-suggested.png")

    # review grid
    window.commands["view.grid"].setChecked(True)
    window.commands["view.grid"].trigger() if not window.images.grid_mode else None
    dock = window.images.parentWidget()
    while dock is not None and not hasattr(dock, "setFloating"):
        dock = dock.parentWidget()
    window.resizeDocks([dock], [760], Qt.Orientation.Horizontal)
    for k in window.images.ordered_keys()[:3]:
        window.status_ops.accept(k)
    pump(1.5)
    window.images.set_filter(0)
    pump(1.5)
    shot(window, "05-review-grid.png")
    window.images.set_grid_mode(False)
    window.resizeDocks([dock], [320], Qt.Orientation.Horizontal)

    # uncertainty overlay
    window.commands["view.uncertainty"].setChecked(True)
    wait(lambda: canvas.uncertainty_item.has_map, 60)
    shot(window, "06-uncertainty.png")
    window.commands["view.uncertainty"].setChecked(False)

    # export
    window.show_export()
    dlg = window.export_dialog
    dlg.out_edit.setText(str(work / "export"))
    dlg.png_check.setChecked(True)
    dlg.start_export()
    wait(lambda: dlg.last_result is not None, 120)
    shot(dlg, "07-export.png")
    dlg.close()

    help_dialog = HelpDialog(window.commands, window)
    help_dialog.show()
    shot(help_dialog, "08-shortcuts.png")
    help_dialog.close()

    window.close()
    QApplication.processEvents()
    log.info("screenshots in %s (%s model)", out, "real" if real else "stand-in")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
