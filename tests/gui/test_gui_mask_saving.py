"""The background mask writer behind the document's autosave (symnet_gui/document/autosave.py)."""

from __future__ import annotations

import numpy as np
import pytest

from symnet_core.project import ImageStatus, Project
from symnet_gui.document.autosave import BackgroundWriter, SaveJob


def test_writer_writes_reports_and_recycles_its_copy_buffer(qtbot, folder):
    project = Project.create(folder, ["box"])
    writer = BackgroundWriter()
    done = []
    writer.done.connect(lambda job, rec, exc: done.append((job, rec, exc)))
    try:
        mask = np.zeros((96, 128), np.uint8)
        mask[10:20, 10:30] = 1
        copy = writer.copy_for_job(mask)
        assert copy is not mask
        writer.submit(project, SaveJob(1, "img_00.png", copy, "edit"))
        assert writer.busy
        with pytest.raises(RuntimeError):
            writer.submit(project, SaveJob(2, "img_00.png", copy, "edit"))  # one at a time
        writer.wait()  # emits done at once
        assert not writer.busy and len(done) == 1
        _job, rec, exc = done[0]
        assert exc is None and rec.status is ImageStatus.EDITED
        np.testing.assert_array_equal(project.get_mask("img_00.png"), mask)
        mask[50:60, 50:60] = 1
        again = writer.copy_for_job(mask)
        assert again is copy, "the written job's buffer is reused (its pages are mapped)"
        np.testing.assert_array_equal(again, mask)
        qtbot.wait(50)  # the queued delivery arrives later and must not emit twice
        assert len(done) == 1
    finally:
        writer.release_buffer()
        project.close()


def test_writer_prepares_a_buffer_off_the_gui_thread_and_reports_failures(qtbot, folder):
    project = Project.create(folder, ["box"])
    writer = BackgroundWriter()
    done = []
    writer.done.connect(lambda job, rec, exc: done.append((job, rec, exc)))
    try:
        writer.prepare((96, 128), np.dtype(np.uint8))
        qtbot.waitUntil(lambda: bool(writer._spare), timeout=3000)
        prepared = writer._spare[0]
        bad = writer.copy_for_job(np.full((96, 128), 7, np.uint8))  # class 7 does not exist
        assert bad is prepared
        writer.submit(project, SaveJob(1, "img_01.png", bad, "edit"))
        qtbot.waitUntil(lambda: bool(done), timeout=5000)  # delivered by the event loop
        assert done[0][1] is None and isinstance(done[0][2], ValueError)
        assert project.image("img_01.png").mask is None
        with pytest.raises(ValueError, match="origin"):
            SaveJob(1, "img_01.png", bad, "restore")
    finally:
        writer.release_buffer()
        project.close()
