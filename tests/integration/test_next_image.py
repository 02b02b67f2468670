"""Propagation records embeddings; "which image next" ranks a real project's candidates."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from symnet_core.inference.predictor import Predictor
from symnet_core.project import ImageStatus, Project
from symnet_core.project.embeddings import read_embeddings, store_embeddings
from symnet_core.workflows.next_image import suggest_next
from symnet_core.workflows.propagation import propagate_project
from tests.model_helpers import scene, tiny_model


class ZeroText:
    dim = 12

    def embed(self, name):
        return np.zeros(12, np.float32), None


@pytest.fixture(scope="module")
def model():
    return tiny_model(1)


def _project(tmp_path, n=8):
    root = tmp_path / "imgs"
    root.mkdir()
    masks = {}
    for i in range(n):
        # two looks: dark noise (even) and a bright blue-ish background (odd)
        img, mask = scene(72, 96, 10 + i)
        if i % 2:
            img = (img // 3 + np.array([20, 60, 160], np.uint8)).astype(np.uint8)
        Image.fromarray(img).save(root / f"im{i}.png")
        masks[f"im{i}.png"] = mask
    p = Project.create(root, classes=["box"])
    p.set_mask("im0.png", masks["im0.png"].astype(np.uint8), status="support")
    return p, masks


def test_propagation_records_vectors_and_the_ranking_follows_new_supports(tmp_path, model):
    project, masks = _project(tmp_path)
    with project:
        factory = lambda: Predictor(model, device="cpu", text_embedder=ZeroText(), model_id="tiny")  # noqa: E731
        report = propagate_project(project, factory, batch_size=3)
        assert len(report.predicted) == 7
        cache = read_embeddings(project.project_dir)
        assert cache.model == "tiny"
        assert sorted(cache.vectors) == sorted(masks), "every predicted image and the support"
        first = suggest_next(project, uncertainty_weight=0.5)
        assert len(first.ranked) == 7 and first.unranked == () and first.supports_used == 1
        assert set(first.ranked) == {f"im{i}.png" for i in range(1, 8)}
        assert all(0.0 <= x <= 1.0 for x in first.priorities)
        top = first.ranked[0]
        assert top in {f"im{i}.png" for i in (1, 3, 5, 7)}, "the support looks like the even images"

        # the user paints the suggested image and makes it a support: no propagation needed
        project.set_mask(top, masks[top].astype(np.uint8), status="support")
        second = suggest_next(project, uncertainty_weight=0.0)
        assert top not in second.order and second.supports_used == 2
        vec = cache.vectors
        farthest = max(second.ranked, key=lambda k: min(np.linalg.norm(vec[k] - vec[s]) for s in ("im0.png", top)))
        assert second.ranked[0] == farthest, "the new support is a center: the pick is farthest from both"

        # a rejected prediction counts as fully uncertain: with weight 1 it comes first
        last = second.ranked[-1]
        project.set_status(last, ImageStatus.REJECTED)
        assert suggest_next(project, uncertainty_weight=1.0).ranked[0] == last


def test_images_never_propagated_are_listed_after_the_ranked_ones(tmp_path):
    project, _ = _project(tmp_path, n=4)
    with project:
        assert suggest_next(project).ranked == ()
        assert suggest_next(project).unranked == ("im1.png", "im2.png", "im3.png")
        store_embeddings(project.project_dir, "m", {"im3.png": np.ones(5), "im0.png": np.eye(5)[0]})
        s = suggest_next(project)
        assert s.ranked == ("im3.png",) and s.unranked == ("im1.png", "im2.png") and s.supports_used == 1
        assert s.order == ("im3.png", "im1.png", "im2.png")


def test_suggest_command_lists_the_ranking_read_only(tmp_path, capsys):
    from symnet_core.cli.annotate import main

    project, masks = _project(tmp_path, n=5)
    with project:
        for i, conf in ((1, 0.9), (2, 0.3), (3, 0.8)):
            project.store_prediction(f"im{i}.png", masks[f"im{i}.png"].astype(np.uint8), confidence=conf, model="m")
        e = np.eye(3)
        store_embeddings(project.project_dir, "m", {"im0.png": e[0], "im1.png": e[0], "im2.png": e[1],
                                                    "im3.png": e[2]})
        expected = suggest_next(project)
        # the command opens the project read-only: it works while this writer holds it
        assert main(["suggest", "--project", str(project.images_root), "--json", "--top", "2"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert [r["image"] for r in out["ranked"]] == list(expected.ranked[:2])
        assert out["unranked"] == ["im4.png"] and out["supports_used"] == 1 and out["model"] == "m"
        assert out["ranked"][0]["status"] == "predicted" and 0 <= out["ranked"][0]["priority"] <= 1
        assert main(["suggest", "--project", str(project.images_root)]) == 0
        text = capsys.readouterr().out
        assert f"  1. {expected.ranked[0]}  priority" in text and "1 never propagated" in text
        assert main(["suggest", "--project", str(project.images_root), "--uncertainty-weight", "2"]) == 2
        assert "--uncertainty-weight" in capsys.readouterr().err


def test_suggest_command_before_any_propagation(tmp_path, capsys):
    from symnet_core.cli.annotate import main

    project, _ = _project(tmp_path, n=3)
    project.close()
    assert main(["suggest", "--project", str(tmp_path / "imgs")]) == 0
    assert "propagate first" in capsys.readouterr().out
