"""hf:// through huggingface_hub's own offline cache rules; gdown adapter against a fake at its boundary;
the official key list checked against a meta-device model; catalogue pins."""

from __future__ import annotations

import hashlib
import re
import sys
import types
from collections import namedtuple
from pathlib import Path

import pytest
import torch

from symnet_core.model.config import SymNetConfig
from symnet_core.weights import DownloadError, ModelManager
from symnet_core.weights.catalogue import CATALOGUE, guess_from_path
from symnet_core.weights.folds import base_class_names, is_base_class
from symnet_core.weights.validate import expected_shapes, key_mismatches
from tests.http_fixtures import authors_layout_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _hf_cache(root: Path, repo: str, filename: str, data: bytes) -> None:
    """The hub cache layout huggingface_hub documents (models--owner--name/{blobs,snapshots,refs})."""
    repo_dir = root / ("models--" + repo.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    blob = hashlib.sha256(data).hexdigest()
    (repo_dir / "blobs").mkdir(parents=True)
    (repo_dir / "blobs" / blob).write_bytes(data)
    snap = repo_dir / "snapshots" / commit / filename
    snap.parent.mkdir(parents=True)
    snap.symlink_to(Path("../" * (filename.count("/") + 2)) / "blobs" / blob)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)


def test_hf_source_comes_from_the_offline_cache(tmp_path, monkeypatch):
    data = authors_layout_bytes(seed=1)
    cache = tmp_path / "hub"
    _hf_cache(cache, "someone/symnet-tiny", "weights/tiny.pth", data)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    manager = ModelManager(tmp_path / "models")
    entry = manager.add("hf://someone/symnet-tiny/weights/tiny.pth", sha256=hashlib.sha256(data).hexdigest())
    assert entry.name == "tiny" and (manager.directory / "tiny.pth").read_bytes() == data
    with pytest.raises(DownloadError, match="not in the Hugging Face cache"):
        manager.add("hf://someone/symnet-tiny/weights/missing.pth")


class FakeGdown(types.ModuleType):
    """A stand-in for the gdown package at its API boundary (download / download_folder), no network."""

    File = namedtuple("GoogleDriveFileToDownload", ("id", "path", "local_path"))

    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        super().__init__("gdown")
        self.files = files
        self.calls: list[dict] = []

    def download_folder(self, *, id, skip_download, quiet, timeout):
        self.calls.append({"folder": id, "skip_download": skip_download})
        return [self.File(fid, path, None) for fid, (path, _) in self.files.items()]

    def download(self, *, id, output, quiet, progress, cancel, timeout):
        self.calls.append({"file": id, "timeout": timeout})
        data = self.files[id][1]
        Path(output).write_bytes(data)
        progress(len(data), len(data))
        return output


def test_gdown_adapter_lists_the_authors_folder_and_installs_a_pick(tmp_path, monkeypatch):
    data = authors_layout_bytes(seed=2)
    fake = FakeGdown({"FID1": ("pascal/split1/resnet50_1shot/best.pth", data), "FID2": ("readme.txt", b"x")})
    monkeypatch.setitem(sys.modules, "gdown", fake)
    manager = ModelManager(tmp_path / "models")
    listing = manager.list_folder("authors-checkpoints")
    assert [p for _, p in listing] == ["pascal/split1/resnet50_1shot/best.pth", "readme.txt"]
    entry = manager.get("authors-checkpoints", file="pascal/split1/resnet50_1shot/best.pth", files=listing)
    assert entry.source == "gdrive://FID1" and entry.dataset == "pascal" and entry.fold == 1
    assert entry.sha256 == hashlib.sha256(data).hexdigest() and not entry.sha256_pinned  # recorded at download
    assert fake.calls[-1]["timeout"][0] <= 2


def test_gdrive_without_gdown_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", None)  # import gdown -> ImportError
    with pytest.raises(DownloadError, match=r"symnet-annotate\[gdrive\]"):
        ModelManager(tmp_path / "m").add("gdrive://SOMEID")


def _official_keys() -> dict[str, tuple[int, ...]]:
    out = {}
    for line in (FIXTURES / "official-checkpoint-keys.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape, _dtype = line.split("\t")
        out[key] = tuple(int(x) for x in re.findall(r"\d+", shape))
    return out


def test_official_key_list_fits_a_meta_model_without_allocating_weights():
    five_shot = _official_keys()
    official = {k: v for k, v in five_shot.items() if not k.startswith("kshot_rw.")}
    assert (len(official), len(five_shot)) == (420, 424)
    expected = expected_shapes(SymNetConfig(layers=50, num_base_outputs=16, text_dim=300, shots=1))
    assert key_mismatches(expected, official) == []
    assert key_mismatches(expected_shapes(SymNetConfig(layers=50, num_base_outputs=16, text_dim=300, shots=5)),
                          five_shot) == []
    tampered = {**official, "CrossAttention.proj.weight": (3, 3)}
    tampered.pop("res1.0.weight")
    problems = key_mismatches(expected, tampered)
    assert problems[0] == "missing keys (1): res1.0.weight"
    assert "CrossAttention.proj.weight (3, 3)≠(256, 256)" in problems[1]
    assert torch.tensor(0).device.type == "cpu"  # meta device did not leak into the default


def test_folds_paths_and_catalogue_pins():
    assert base_class_names("pascal", 0)[:2] == ("bus", "car") and len(base_class_names("pascal", 0)) == 15
    assert "person" not in base_class_names("coco", 0) and len(base_class_names("coco", 3)) == 60
    assert is_base_class("Potted_Plant", base_class_names("pascal", 0))
    assert not is_base_class("cat", base_class_names("pascal", 1))  # cat (8) is a fold-1 novel class
    assert guess_from_path("coco/fold3/resnet101/5shot/x.pth") == {"dataset": "coco", "fold": 3, "shots": 5,
                                                                     "layers": 101}
    pinned = {c.name: c.sha256 for c in CATALOGUE if c.sha256}
    assert pinned["word2vec-pascal"].startswith("eebb9c29") and pinned["word2vec-coco"].startswith("226bd025")


def test_a_damaged_registry_is_named_and_never_overwritten_silently(tmp_path, capsys):
    from symnet_core.cli.annotate import main

    models = tmp_path / "models"
    models.mkdir()
    (models / "registry.json").write_text("{ not json")
    assert main(["models", "--models-dir", str(models), "list"]) == 2
    err = capsys.readouterr().err
    assert str(models / "registry.json") in err and "unreadable model registry" in err
    assert (models / "registry.json").read_text() == "{ not json"


def test_clip_entry_fills_the_hub_cache_where_the_text_encoder_finds_it(tmp_path, monkeypatch):
    import json
    import struct

    from symnet_core.inference.text import ClipTextEncoder

    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    weights = struct.pack("<Q", len(header)) + header + b"\0\0\0\0"
    cache = tmp_path / "hub"
    _hf_cache(cache, "timm/resnet50_clip.openai", "open_clip_model.safetensors", weights)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    manager = ModelManager(tmp_path / "models")
    entry = manager.get("clip-rn50-openai")
    assert entry.kind == "clip" and entry.text_embedding["model"] == "RN50"
    assert entry.sha256 == hashlib.sha256(weights).hexdigest()
    assert Path(ClipTextEncoder("RN50", "openai").resolve_weights()).resolve() == Path(entry.file).resolve()
    manager.remove("clip-rn50-openai")
    assert Path(entry.file).is_file()  # the hub cache's file is not ours to delete
    with pytest.raises(DownloadError, match="not in the Hugging Face cache"):
        manager.get("clip-vit-b-32-openai")
