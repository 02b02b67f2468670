"""load_checkpoint: the authors' file layouts, our format, strict errors, no pickled code."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from symnet_core import load_checkpoint, save_checkpoint
from symnet_core.model.checkpoints import CheckpointError, infer_config, read_checkpoint
from symnet_core.model.config import SymNetConfig
from symnet_core.model.symnet import SymNet
from tests.model_helpers import TINY, episode_tensors, tiny_model


def _outputs(model: SymNet) -> torch.Tensor:
    q, s, y, t = episode_tensors(model, batch=1, shots=model.config.shots, seed=5)
    with torch.inference_mode():
        return model(q, s, y, t).final


def _official_file(tmp_path: Path, model: SymNet, prefix: str = "", name: str = "train_epoch_3.pth") -> Path:
    state = {prefix + k: v for k, v in model.state_dict().items()}
    optimizer = {"state": {}, "param_groups": [{"lr": 0.05, "momentum": 0.9, "params": [0, 1]}]}
    path = tmp_path / name
    torch.save({"epoch": 3, "state_dict": state, "optimizer": optimizer}, path)
    return path


@pytest.mark.parametrize("prefix", ["", "module."])
def test_official_layout_loads_strictly_with_or_without_ddp_prefix(tmp_path, prefix):
    # Tiny width but 16 base outputs: the authors' PASCAL layout, so the input size is inferred as 473.
    model = tiny_model(1, num_base_outputs=16, image_size=473)
    path = _official_file(tmp_path, model, prefix)
    loaded = load_checkpoint(path, device="cpu")
    assert not loaded.training
    assert loaded.config == model.config
    assert loaded.checkpoint_info.source == "official"
    assert loaded.checkpoint_info.dataset == "pascal"
    assert loaded.checkpoint_info.text_encoder == {}  # tiny text_dim: unknown encoder
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_full_size_official_state_dict_infers_architecture(tmp_path):
    for cfg in (SymNetConfig(shots=5), SymNetConfig(layers=101, num_base_outputs=61, image_size=641)):
        state = SymNet(cfg).state_dict()
        assert infer_config(state) == cfg
    info, _ = read_checkpoint(_official_file(tmp_path, SymNet(SymNetConfig(shots=5))))
    assert info.config.shots == 5 and info.text_encoder == {"kind": "word2vec", "dataset": "pascal"}
    assert "ResNet-50" in info.describe() and "5-shot" in info.describe()


def test_bare_state_dict_and_k_shot(tmp_path):
    model = tiny_model(5, num_base_outputs=61, image_size=641)
    path = tmp_path / "bare.pth"
    torch.save(model.state_dict(), path)
    loaded = load_checkpoint(path)
    assert loaded.config.shots == 5 and loaded.config.image_size == 641
    assert hasattr(loaded, "kshot_rw")


def test_own_format_round_trip_keeps_config_and_metadata(tmp_path):
    model = tiny_model(1)
    path = save_checkpoint(
        model,
        tmp_path / "sub" / "demo.pth",
        dataset="synthetic",
        text_encoder={"kind": "clip", "model": "RN50", "pretrained": None},
        base_classes=["a", "b", "c"],
        metadata={"val_miou": 0.8, "config": {"lr": 0.05}},
    )
    loaded = load_checkpoint(path)
    info = loaded.checkpoint_info
    assert loaded.config == model.config  # image size 129 is kept (keys cannot tell it)
    assert info.source == "symnet-annotate" and info.dataset == "synthetic"
    assert info.base_classes == ("a", "b", "c") and info.metadata["val_miou"] == 0.8
    assert torch.allclose(_outputs(loaded), _outputs(model))
    assert not list(path.parent.glob("*.tmp"))


def test_half_precision_storage_halves_the_file_and_loads_as_float32(tmp_path):
    model = tiny_model(1)
    full = save_checkpoint(model, tmp_path / "full.pth")
    half = save_checkpoint(model, tmp_path / "half.pth", storage_dtype="float16")
    assert half.stat().st_size < 0.6 * full.stat().st_size
    info, state = read_checkpoint(half)
    assert info.metadata["storage_dtype"] == "float16"
    assert all(v.dtype in (torch.float16, torch.int64) for v in state.values())
    loaded = load_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    for (k, v), w in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        if v.is_floating_point():
            torch.testing.assert_close(w, v.half().float(), msg=k)
    with pytest.raises(ValueError, match="storage_dtype"):
        save_checkpoint(model, tmp_path / "x.pth", storage_dtype="int8")


def test_mismatch_lists_missing_and_unexpected_keys(tmp_path):
    state = tiny_model(1).state_dict()
    del state["cls.3.bias"]
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    msg = str(err.value)
    assert str(path) in msg and "cls.3.bias" in msg and "extra.weight" in msg


def test_shape_mismatch_is_reported(tmp_path):
    state = tiny_model(1).state_dict()
    state["cls.0.weight"] = torch.zeros(16, 16, 1, 1)
    path = tmp_path / "shape.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="cls.0.weight"):
        load_checkpoint(path)


class _Evil:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['EVIL_MARKER'], 'w').write('pwned')",))


def test_pickled_code_is_never_executed(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.setenv("EVIL_MARKER", str(marker))
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": _Evil()}, f)
    with pytest.raises(CheckpointError, match="evil.pth"):
        load_checkpoint(path)
    assert not marker.exists()


def test_not_a_checkpoint_and_missing_file(tmp_path):
    junk = tmp_path / "notes.pth"
    junk.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pth"):
        load_checkpoint(junk)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pth")
    torch.save({"state_dict": {"foo": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a Sym-Net checkpoint"):
        load_checkpoint(tmp_path / "other.pth")


def test_newer_format_is_refused(tmp_path):
    model = tiny_model(1)
    path = save_checkpoint(model, tmp_path / "m.pth")
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(path)


def test_tiny_config_is_what_tests_use():
    assert TINY["image_size"] == 129
