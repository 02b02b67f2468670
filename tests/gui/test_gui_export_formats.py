"""The export dialog offers YOLO, Pascal VOC, labelme and CVAT; exporting YOLO from it writes the dataset."""

from __future__ import annotations

import numpy as np

from symnet_core.io.registry import import_format
from tests.gui.test_gui_window import paint_support


def test_exporting_yolo_from_the_dialog_writes_files(qtbot, make_window, folder, tmp_path):
    w = make_window(folder=folder)
    paint_support(qtbot, w)
    w.show_export()
    dlg = w.export_dialog
    assert set(dlg.format_checks) == {"yolo", "voc", "labelme", "cvat"}
    out = tmp_path / "export"
    dlg.out_edit.setText(str(out))
    dlg.coco_check.setChecked(False)
    assert dlg.comp_radio.isEnabled() is False  # no instance format chosen yet
    dlg.format_checks["yolo"].setChecked(True)
    assert dlg.comp_radio.isEnabled()
    with qtbot.waitSignal(dlg.task.finished, timeout=20000) as blocker:
        assert dlg.start_export()
    result = blocker.args[0]
    assert result.ok, result.error
    assert result.format_dirs == (str(out / "yolo"),)
    assert (out / "yolo" / "data.yaml").is_file() and (out / "yolo" / "images" / "img_00.png").is_file()
    line = (out / "yolo" / "labels" / "img_00.txt").read_text().split()
    assert line[0] == "0" and len(line) >= 7
    assert not (out / "instances.json").exists()
    assert "YOLO: 1 images" in dlg.result_text.toPlainText()
    _, masks = import_format("yolo", out / "yolo")
    painted = w.document.project.get_mask("img_00.png")
    assert np.array_equal(masks["img_00.png"] > 0, painted > 0)
