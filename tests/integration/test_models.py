"""Model manager end to end on real sockets (127.0.0.1), real files and real checkpoints (tiny config)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from symnet_core.cancel import OperationCancelled
from symnet_core.cli.annotate import main
from symnet_core.project import ImageStatus, Project
from symnet_core.weights import DownloadError, HashMismatch, ModelManager, Registry
from symnet_core.weights.download import download_url
from symnet_core.weights.validate import ValidationError
from tests.http_fixtures import ServerState, authors_layout_bytes, serve
from tests.model_helpers import scene


@pytest.fixture(scope="module")
def ckpt_bytes() -> bytes:
    return authors_layout_bytes()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verify_register_then_propagate_with_model(tmp_path, ckpt_bytes, capsys, monkeypatch):
    models = tmp_path / "models"
    monkeypatch.setenv("SYMNET_MODELS_DIR", str(models))
    state = ServerState(files={"/x.pth": ckpt_bytes})
    with serve(state) as base:
        rc = main(["models", "add", f"{base}/x.pth", "--sha256", _sha(ckpt_bytes)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "installed x" in out
    entry = Registry(models).require("x")
    assert entry.sha256 == _sha(ckpt_bytes) and entry.sha256_pinned and entry.size == len(ckpt_bytes)
    assert entry.architecture["num_base_outputs"] == 4 and entry.architecture["format"] == "official"
    assert (models / entry.file).read_bytes() == ckpt_bytes
    assert _leftovers(models) == ["registry.json", "x.pth"]

    rc = main(["models", "list", "--json"])
    listing = json.loads(capsys.readouterr().out)
    assert rc == 0 and [e["name"] for e in listing["installed"]] == ["x"]
    assert {"demo", "word2vec-pascal", "word2vec-coco", "authors-checkpoints"} <= {c["name"] for c in
                                                                                   listing["catalogue"]}
    assert main(["models", "verify", "x"]) == 0

    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        img, mask = scene(90, 120, seed=i)
        cv2.imwrite(str(images / f"img_{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if i == 0:
            support = mask
    with Project.create(images, classes=["blob"]) as project:
        project.set_mask("img_0.png", support.astype(np.uint8), status="support")
    rc = main(["propagate", "--project", str(images), "--model", "x", "--device", "cpu"])
    assert rc == 0, capsys.readouterr()
    with Project.open(images, read_only=True) as project:
        assert {r.path for r in project.images if r.status == ImageStatus.PREDICTED} == {"img_1.png", "img_2.png"}


def test_dropped_connection_is_resumed_with_range(tmp_path, ckpt_bytes):
    state = ServerState(files={"/x.pth": ckpt_bytes}, drop_after=len(ckpt_bytes) // 3)
    seen = []
    with serve(state) as base:
        part, digest = download_url(f"{base}/x.pth", tmp_path, progress=seen.append)
    assert digest == _sha(ckpt_bytes) and part.read_bytes() == ckpt_bytes
    assert state.requests == [("/x.pth", None), ("/x.pth", f"bytes={len(ckpt_bytes) // 3}-")]
    assert seen[-1].done == len(ckpt_bytes) and seen[-1].total == len(ckpt_bytes)


def test_server_ignoring_range_restarts_from_zero(tmp_path, ckpt_bytes):
    state = ServerState(files={"/x.pth": ckpt_bytes}, drop_after=1000, honour_range=False)
    with serve(state) as base:
        part, digest = download_url(f"{base}/x.pth", tmp_path)
    assert digest == _sha(ckpt_bytes) and part.read_bytes() == ckpt_bytes


def test_wrong_hash_removes_the_file_and_names_both_hashes(tmp_path, ckpt_bytes, capsys):
    models = tmp_path / "models"
    with serve(ServerState(files={"/x.pth": ckpt_bytes})) as base:
        with pytest.raises(HashMismatch) as err:
            ModelManager(models).add(f"{base}/x.pth", sha256="0" * 64)
        rc = main(["models", "--models-dir", str(models), "add", f"{base}/x.pth", "--sha256", "1" * 64])
    assert "0" * 64 in str(err.value) and _sha(ckpt_bytes) in str(err.value)
    assert rc == 2 and _sha(ckpt_bytes) in capsys.readouterr().err
    assert _leftovers(models) == []


def test_cancel_mid_download_leaves_nothing(tmp_path, ckpt_bytes):
    models = tmp_path / "models"
    cancel = threading.Event()
    with serve(ServerState(files={"/x.pth": ckpt_bytes})) as base, pytest.raises(OperationCancelled):
        ModelManager(models).add(f"{base}/x.pth", progress=lambda p: cancel.set(), cancel=cancel)
    assert _leftovers(models) == []


def test_connection_refused_fails_at_once_with_a_hand_install_hint(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as err:
        ModelManager(tmp_path / "models").add(f"http://127.0.0.1:{port}/x.pth")
    assert err.value.attempts == 1  # no retry loop
    msg = str(err.value)
    assert f"127.0.0.1:{port}" in msg and "tried once" in msg and "models add /path/to/x.pth" in msg
    assert _leftovers(tmp_path / "models") == []


def test_corrupt_and_wrong_architecture_files_are_refused_by_name(tmp_path, ckpt_bytes):
    manager = ModelManager(tmp_path / "models")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(ckpt_bytes[: len(ckpt_bytes) // 2])
    with pytest.raises(ValidationError, match="corrupt|not a loadable"):
        manager.add(str(corrupt))
    raw = torch.load(__import__("io").BytesIO(ckpt_bytes), weights_only=True)
    state = raw["state_dict"]
    state["module.cls.0.weight"] = torch.zeros(3, 3)
    state.pop("module.res1.0.weight")
    bad = tmp_path / "bad.pth"
    torch.save(raw, bad)
    with pytest.raises(ValidationError) as err:
        manager.add(str(bad))
    assert "module.res1.0.weight" not in str(err.value)  # prefixes stripped: names match the model's keys
    assert "missing keys (1): res1.0.weight" in str(err.value) and "cls.0.weight (3, 3)" in str(err.value)
    assert _leftovers(manager.directory) == []


def test_local_add_info_verify_detects_tampering_and_remove(tmp_path, ckpt_bytes, capsys):
    src = tmp_path / "pascal_split2_resnet50.pth"
    src.write_bytes(ckpt_bytes)
    models = tmp_path / "models"
    assert main(["models", "--models-dir", str(models), "add", str(src), "--name", "mine"]) == 0
    capsys.readouterr()
    assert main(["models", "--models-dir", str(models), "info", "mine", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sha256_pinned"] is False and info["sha256"] == _sha(ckpt_bytes)
    assert info["dataset"] == "pascal" and info["fold"] == 2  # read from the file name
    assert info["base_classes"] == []  # 3 base outputs in the tiny model ≠ PASCAL's 15: not claimed
    (models / "mine.pth").write_bytes(ckpt_bytes[:-1] + bytes([ckpt_bytes[-1] ^ 1]))
    assert main(["models", "--models-dir", str(models), "verify"]) == 1
    assert "FAIL mine" in capsys.readouterr().out
    assert main(["models", "--models-dir", str(models), "remove", "mine"]) == 0
    assert _leftovers(models) == ["registry.json"]
    assert main(["models", "--models-dir", str(models), "info", "mine"]) == 2


def test_base_class_prints_a_meta_only_suggestion_and_demo_registers(tmp_path, capsys):
    from symnet_core.model.checkpoints import save_checkpoint
    from tests.model_helpers import tiny_model

    ckpt = tmp_path / "trained.pth"
    save_checkpoint(tiny_model(1), ckpt, dataset="synthetic", text_encoder={"kind": "hashed", "salt": "s"},
                    base_classes=["disc", "ring", "bar"])
    models = tmp_path / "models"
    assert main(["models", "--models-dir", str(models), "add", str(ckpt)]) == 0
    dirs = {name: tmp_path / name for name in ("sup", "masks", "imgs", "out")}
    for d in dirs.values():
        d.mkdir()
    img, mask = scene(90, 120, seed=0)
    cv2.imwrite(str(dirs["sup"] / "a.png"), img)
    cv2.imwrite(str(dirs["masks"] / "a.png"), mask.astype(np.uint8) * 255)
    cv2.imwrite(str(dirs["imgs"] / "b.png"), img)
    capsys.readouterr()
    folder_args = ["--supports", str(dirs["sup"]), "--masks", str(dirs["masks"]), "--images", str(dirs["imgs"]),
                   "--out", str(dirs["out"]), "--model", "trained", "--models-dir", str(models), "--device", "cpu"]
    assert main(["propagate", *folder_args, "--class", "Ring"]) == 0
    assert "'Ring' is one of this model's base classes; --meta-only" in capsys.readouterr().err
    assert main(["propagate", *folder_args, "--class", "cat"]) == 0
    assert "base classes" not in capsys.readouterr().err
    assert main(["propagate", *folder_args, "--class", "ring", "--checkpoint", str(ckpt)]) == 2  # one or the other

    assert main(["models", "--models-dir", str(models), "get", "demo"]) == 0
    demo = Registry(models).require("demo")
    assert demo.source == "package:demo" and demo.kind == "checkpoint" and demo.dataset == "synthetic"


def test_proxy_from_the_environment_is_used(tmp_path, ckpt_bytes, monkeypatch):
    url = "http://models.example.invalid/x.pth"  # .invalid never resolves: only the proxy can answer
    state = ServerState(files={url: ckpt_bytes})  # a forward proxy receives the absolute URL as the path
    with serve(state) as proxy:
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        part, digest = download_url(url, tmp_path)
    assert digest == _sha(ckpt_bytes) and state.requests == [(url, None)]
    part.unlink()
