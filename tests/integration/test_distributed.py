"""Distributed propagation (issue #16) on a real local Ray and real shard processes' code paths.

A tiny Sym-Net saved as a real checkpoint, 12 small real PNGs, one support. The serial engine's
masks are the reference: Ray (2 actors), Ray with an actor killed mid-run, a cancelled-then-resumed
Ray run and three ``--shard i/3`` runs must give the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
import ray
import torch
from PIL import Image

from symnet_core.cli.annotate import main
from symnet_core.inference.loading import load_predictor
from symnet_core.model.checkpoints import save_checkpoint
from symnet_core.project import ImageStatus, Project
from symnet_core.project.embeddings import read_embeddings
from symnet_core.workflows.distributed.ray_engine import RayOptions, propagate_project_ray
from symnet_core.workflows.distributed.shards import propagate_project_shard, shard_keys
from symnet_core.workflows.distributed.worker import ModelOptions
from symnet_core.workflows.propagation import propagate_project

try:
    from tests.model_helpers import scene, tiny_model
except ImportError:  # tests/ on sys.path
    from model_helpers import scene, tiny_model

N_IMAGES = 12


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the serial engine on one core, like each actor (fast on a busy 2-core machine)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.pth"
    return save_checkpoint(tiny_model(1), path, dataset="synthetic", text_encoder={"kind": "hashed", "salt": "t"})


def _images(root: Path) -> None:
    root.mkdir(parents=True)
    for i in range(N_IMAGES):
        img, _ = scene(40 + 2 * i, 56, seed=i, box=(0.2 + 0.02 * i, 0.25, 0.7, 0.8))
        Image.fromarray(img).save(root / f"im{i:02d}.png")


def _project(root: Path) -> Project:
    _images(root)
    p = Project.create(root, classes=["box"])
    _, mask = scene(40, 56, seed=0, box=(0.2, 0.25, 0.7, 0.8))
    p.set_mask("im00.png", mask.astype(np.uint8), status="support")
    return p


def _digests(project: Project) -> dict[str, str]:
    return {
        r.path: hashlib.sha256((project.masks_dir / r.mask).read_bytes()).hexdigest()
        for r in project.images
        if r.status is ImageStatus.PREDICTED
    }


@pytest.fixture(scope="module")
def serial(ckpt, tmp_path_factory) -> dict[str, str]:
    """The serial engine's mask bytes (sha256 per image): the reference."""
    with _project(tmp_path_factory.mktemp("serial") / "imgs") as p:
        report = propagate_project(p, load_predictor(ckpt, device="cpu").new_predictor)
        assert len(report.predicted) == N_IMAGES - 1
        return _digests(p)


def _model(ckpt: Path) -> ModelOptions:
    return ModelOptions(str(ckpt), device="cpu")


def _worker_pids() -> list[int]:
    from ray._private import state

    actors = state.actors().values()
    return [a["Pid"] for a in actors if "PredictWorker" in a["ActorClassName"] and a["State"] == "ALIVE"]


def test_ray_with_an_actor_killed_and_three_shards_give_the_serial_bytes(ckpt, serial, tmp_path):
    killed: list[int] = []

    def progress(done: int, total: int, key: str) -> None:
        if done == 2 and not killed:  # 9 images still to come
            pids = _worker_pids()  # on a busy machine the second actor may still be starting
            assert pids
            os.kill(pids[0], signal.SIGKILL)  # the actor's process dies, as on a node failure
            killed.append(pids[0])

    with _project(tmp_path / "ray") as p:
        report = propagate_project_ray(p, _model(ckpt), RayOptions(workers=2, batch_size=2), progress=progress)
        assert killed and killed[0] not in _worker_pids()  # Ray Data restarted the actor and retried its batch
        assert len(report.predicted) == len(set(report.predicted)) == N_IMAGES - 1  # nothing lost or duplicated
        assert sorted(report.predicted) == sorted(serial) and not report.failed and not report.cancelled
        assert _digests(p) == serial
        assert p.runs[-1].state == "finished" and p.runs[-1].predicted == N_IMAGES - 1
        vectors = read_embeddings(p.project_dir).vectors  # "which image next" works after a Ray run too
        assert sorted(vectors) == sorted(serial)
        assert all(abs(float(np.linalg.norm(v)) - 1.0) < 5e-3 for v in vectors.values())  # stored as float16

    root = tmp_path / "shards" / "imgs"
    _project(root).close()
    loaded = load_predictor(ckpt, device="cpu")
    holder = Project.open(root)  # shards 0 and 1 run while the project is open elsewhere: they spool
    reports = []
    for i in (0, 1):
        rep, merged = propagate_project_shard(root, loaded.new_predictor, i, 3, lock_wait_s=0.3)
        assert merged is None
        reports.append(rep)
    holder.close()
    rep, merged = propagate_project_shard(root, loaded.new_predictor, 2, 3)  # merges all three spools
    reports.append(rep)
    assert merged is not None and sorted(merged.spools) == ["0of3", "1of3", "2of3"]
    assert merged.committed == N_IMAGES - 1 and len(merged.finished_runs) == 1
    spooled = [k for r in reports for k in r.predicted]
    assert sorted(spooled) == sorted(serial)  # disjoint and complete
    all_keys = [f"im{i:02d}.png" for i in range(N_IMAGES)]
    assert reports[1].predicted == [k for k in shard_keys(all_keys, 1, 3) if k != "im00.png"]
    with Project.open(root) as p:
        assert _digests(p) == serial
        assert [r.state for r in p.runs] == ["finished"]
        assert not (p.project_dir / "shards").exists() or not any((p.project_dir / "shards").iterdir())


def test_cli_folder_to_folder_ray_and_shards_match_serial(ckpt, tmp_path, capsys):
    imgs, sup, masks = tmp_path / "imgs", tmp_path / "sup", tmp_path / "masks"
    _images(imgs)
    sup.mkdir()
    masks.mkdir()
    img, mask = scene(40, 56, seed=0, box=(0.2, 0.25, 0.7, 0.8))
    Image.fromarray(img).save(sup / "s.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(masks / "s.png")
    common = ["propagate", "--supports", str(sup), "--masks", str(masks), "--images", str(imgs), "--class", "box",
              "--checkpoint", str(ckpt), "--device", "cpu"]
    assert main([*common, "--out", str(tmp_path / "serial")]) == 0
    assert main([*common, "--out", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2",
                 "--batch-size", "3"]) == 0
    for i in range(3):
        assert main([*common, "--out", str(tmp_path / "shards"), "--shard", f"{i}/3"]) == 0
    out = capsys.readouterr().out
    assert f"{N_IMAGES}/{N_IMAGES} masks written" in out

    def pngs(d: Path) -> dict[str, bytes]:
        return {f.name: f.read_bytes() for f in sorted(d.glob("*.png"))}

    reference = pngs(tmp_path / "serial")
    assert len(reference) == N_IMAGES
    assert pngs(tmp_path / "ray") == reference
    assert pngs(tmp_path / "shards") == reference


def test_ray_cancel_then_rerun_resumes(ckpt, serial, tmp_path):
    with _project(tmp_path / "imgs") as p:
        cancel = threading.Event()

        def progress(done: int, total: int, key: str) -> None:
            if done == 3:
                cancel.set()

        first = propagate_project_ray(p, _model(ckpt), RayOptions(workers=2), progress=progress, cancel=cancel)
        assert first.cancelled and 3 <= len(first.predicted) < N_IMAGES - 1
        assert p.runs[-1].state == "cancelled"
        run_id = p.runs[-1].id
    # the rerun goes through the command line; engines share the run's fingerprint, so the serial
    # engine resumes the Ray run (the Ray engine resumes through the same code: run_book.drop_done)
    code = main(["propagate", "--project", str(tmp_path / "imgs"), "--checkpoint", str(ckpt), "--device", "cpu"])
    assert code == 0
    with Project.open(tmp_path / "imgs") as p:
        assert [r.id for r in p.runs] == [run_id] and p.runs[-1].state == "finished"
        assert _digests(p) == serial
        assert {r.path for r in p.images if r.run_id == run_id} == set(serial)
