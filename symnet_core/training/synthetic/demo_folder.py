"""The annotation demo's image folder: scenes of one *novel* class of the demo dataset, with
support and ground-truth masks, and a manifest that says which generator made it."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from symnet_core.training.synthetic.classes import GENERATOR_VERSION
from symnet_core.training.synthetic.generator import SyntheticFewShot

log = logging.getLogger(__name__)

__all__ = ["DEMO_DATASET", "dataset_from_metadata", "demo_dataset", "demo_folder_is_current", "make_demo_folder"]

#: Constructor arguments of the dataset the shipped demo model was trained on.
DEMO_DATASET: dict[str, int] = {"seed": 7, "n_classes": 86, "held_out": 6, "min_train_difference": 1}


def demo_dataset() -> SyntheticFewShot:
    """The synthetic dataset the shipped demo model was trained on (:data:`DEMO_DATASET`)."""
    return SyntheticFewShot(**DEMO_DATASET)


def dataset_from_metadata(data: dict[str, object]) -> SyntheticFewShot:
    """The dataset a checkpoint was trained on, from its ``metadata["data"]`` (:meth:`SyntheticFewShot.describe`).

    Raises:
        ValueError: the metadata does not describe a synthetic dataset.
    """
    if data.get("kind", "synthetic") != "synthetic" or "seed" not in data:
        raise ValueError("the checkpoint was not trained on the synthetic dataset")
    return SyntheticFewShot(
        int(data["seed"]), int(data["n_classes"]), int(data["held_out"]),  # type: ignore[call-overload]
        size_range=tuple(data.get("size_range", (176, 256))),  # type: ignore[arg-type]
        min_main_fraction=float(data.get("min_main_fraction", 0.012)),  # type: ignore[arg-type]
        object_scale=float(data.get("object_scale", 1.0)),  # type: ignore[arg-type]
        max_distractors=int(data.get("max_distractors", 3)),  # type: ignore[call-overload]
        clutter=float(data.get("clutter", 1.0)),  # type: ignore[arg-type]
        min_train_difference=int(data.get("min_train_difference", 2)),  # type: ignore[call-overload]
    )


def demo_folder_is_current(out_dir: str | os.PathLike[str], dataset: SyntheticFewShot | None = None) -> bool:
    """Whether ``out_dir`` holds a demo folder made from ``dataset`` (default :func:`demo_dataset`)
    by this generator version — an older one shows a class the current demo model never saw."""
    ds = dataset or demo_dataset()
    try:
        manifest = json.loads((Path(out_dir) / ".demo.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("dataset") == _dataset_tag(ds) and manifest.get("generator_version") == GENERATOR_VERSION


def _dataset_tag(ds: SyntheticFewShot) -> dict[str, int]:
    return {"seed": ds.seed, "n_classes": ds.n_classes, "held_out": ds.held_out,
            "min_train_difference": ds.min_train_difference}  # fmt: skip


def _write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", compress_level=6)


def make_demo_folder(
    out_dir: str | os.PathLike[str],
    n_images: int = 40,
    seed: int = 0,
    with_supports: bool = True,
    *,
    dataset: SyntheticFewShot | None = None,
    class_id: int | None = None,
    n_supports: int = 3,
) -> dict[str, object]:
    """Write a folder of ``n_images`` scenes that all contain one *novel* class, plus masks.

    Layout (hidden folders are skipped by the annotation tool's image scan)::

        out_dir/demo_000.png … demo_{n-1}.png   RGB scenes (the images to annotate)
        out_dir/.supports/demo_XXX.png          masks of the first ``n_supports`` images (if with_supports)
        out_dir/.groundtruth/demo_XXX.png       masks of every image, for measuring the propagation
        out_dir/.groundtruth/labelmap.txt       ``0<TAB>background`` / ``1<TAB><class name>``
        out_dir/.demo.json                      class name and id, seeds, file lists, generator version

    Masks are 8-bit single-channel PNGs: 1 = the demo class, 0 = everything else (other classes'
    distractor objects included). Scenes come from the ``"demo"`` stream, so they differ from the
    scenes used for training and evaluation.

    Args:
        out_dir: created if needed; existing files of the same names are overwritten.
        n_images: number of scenes. seed: scene seed (different seeds, different scenes).
        with_supports: also write ``.supports/``.
        dataset: the class table (default :func:`demo_dataset`, the shipped demo model's).
        class_id: the novel class to show (default: the dataset's first novel class).
        n_supports: how many images get a support mask.

    Returns:
        The manifest written to ``.demo.json``.
    """
    ds = dataset or demo_dataset()
    cid = ds.novel_classes[0] if class_id is None else int(class_id)
    if cid not in ds.novel_classes:
        log.warning("class %d is a training class of this dataset, not a novel one", cid)
    if n_images < 1 or (with_supports and not 0 <= n_supports <= n_images):
        raise ValueError(f"need n_images >= 1 and 0 <= n_supports <= n_images, got {n_images}, {n_supports}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"demo_{i:03d}.png" for i in range(n_images)]
    pool = ds.split_pool("demo")
    for i, name in enumerate(names):
        rgb, label = ds.scene(seed * 100_003 + i, pool, main=cid, stream="demo")
        mask = (label == cid).astype(np.uint8)
        _write_png(out / name, rgb)
        _write_png(out / ".groundtruth" / name, mask)
        if with_supports and i < n_supports:
            _write_png(out / ".supports" / name, mask)
    class_name = ds.spec(cid).name
    (out / ".groundtruth" / "labelmap.txt").write_text(f"0\tbackground\n1\t{class_name}\n", encoding="utf-8")
    manifest: dict[str, object] = {
        "class_name": class_name,
        "class_id": cid,
        "dataset": _dataset_tag(ds),
        "scene_seed": seed,
        "generator_version": GENERATOR_VERSION,
        "images": names,
        "supports": names[:n_supports] if with_supports else [],
        "mask_values": {"0": "background", "1": class_name},
        "class_spec": asdict(ds.spec(cid)),
    }
    (out / ".demo.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest
