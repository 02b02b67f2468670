"""The built-in catalogue: models symnet-annotate knows where to get (torch-free).

Entries:

* ``demo``: the demo model shipped inside the package (:mod:`symnet_core.assets`); "getting" it
  registers the packaged file (no network).
* ``word2vec-pascal`` / ``word2vec-coco``: the authors' class-vector tables from
  github.com/Sunbaoquan/Sym-Net at commit 448f312, sha256 pinned (computed from the repository's
  git objects).
* ``clip-rn50-openai`` / ``clip-vit-b-32-openai``: open_clip's text weights for ``symnet-train``
  models, fetched with huggingface_hub into the hub cache (where
  :class:`~symnet_core.inference.text.ClipTextEncoder` looks) and registered in place.
* ``authors-checkpoints``: the authors' Google Drive folder of trained checkpoints. Its contents are
  not published anywhere else, so the entry is a *folder*: ``models get authors-checkpoints`` lists
  it (through gdown) and ``--file`` picks one; its hash is unknown in advance and recorded at first
  download (trust on first use, shown by ``models info``). Dataset, fold and shots are read from the
  file's path in the folder when it says them (``pascal``/``coco``, ``split0``/``fold0``, ``1shot``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["AUTHORS_COMMIT", "CATALOGUE", "CatalogueEntry", "guess_from_path", "lookup"]

#: Commit of github.com/Sunbaoquan/Sym-Net whose word2vec tables are pinned here.
AUTHORS_COMMIT = "448f312900f77a55a5a2a406464a78fe79d4bff2"
AUTHORS_DRIVE_FOLDER = "1-YPZYhYQdHbfdhixWMS1UU31XJ822ECC"
_RAW = f"https://raw.githubusercontent.com/Sunbaoquan/Sym-Net/{AUTHORS_COMMIT}/embeddings"


@dataclass(frozen=True)
class CatalogueEntry:
    """One thing the catalogue offers.

    kind: ``"checkpoint"``, ``"word2vec"``, ``"clip"`` (kept in the Hugging Face cache, not copied) or
    ``"folder"`` (a listing to pick files from).
    source: ``package:demo``, an https URL, ``gdrive://folder/ID``. sha256/size: pinned values or None.
    license: the terms as far as we could verify them (docs/models.md has the details).
    """

    name: str
    kind: str
    title: str
    source: str
    sha256: str | None
    size: int | None
    dataset: str | None
    license: str


CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry("demo", "checkpoint", "Demo model (synthetic scenes, bundled with the package)",
                   "package:demo", None, None, "synthetic", "MIT (this project)"),
    CatalogueEntry("word2vec-pascal", "word2vec", "Authors' word2vec class vectors, PASCAL-5i (21 x 300)",
                   f"{_RAW}/word2vec_pascal.pkl",
                   "eebb9c29d2d6af4621a56e9a5d5e464a97587d46bf194dad824f15791d737ec3", 25359, "pascal",
                   "Apache-2.0 (Sym-Net repository LICENSE)"),
    CatalogueEntry("word2vec-coco", "word2vec", "Authors' word2vec class vectors, COCO-20i (81 x 300)",
                   f"{_RAW}/word2vec_coco.pkl",
                   "226bd025d9514962e53f3164c8f717dab5ff703e4dfb24cf85163f3a241f93ab", 97359, "coco",
                   "Apache-2.0 (Sym-Net repository LICENSE)"),
    CatalogueEntry("clip-rn50-openai", "clip",
                   "CLIP RN50 / openai text weights for symnet-train models (the default text encoder), into the "
                   "Hugging Face cache where open_clip finds them",
                   "hf://timm/resnet50_clip.openai/open_clip_model.safetensors", None, None, None,
                   "OpenAI CLIP weights: MIT (github.com/openai/CLIP LICENSE); the hub copy's card was not checked"),
    CatalogueEntry("clip-vit-b-32-openai", "clip",
                   "CLIP ViT-B-32 / openai text weights for symnet-train models trained with it",
                   "hf://timm/vit_base_patch32_clip_224.openai/open_clip_model.safetensors", None, None, None,
                   "OpenAI CLIP weights: MIT (github.com/openai/CLIP LICENSE); the hub copy's card was not checked"),
    CatalogueEntry("authors-checkpoints", "folder",
                   "Authors' trained Sym-Net checkpoints (Google Drive folder: ResNet-50/101, PASCAL-5i/COCO-20i, "
                   "folds, 1/5-shot; pick a file)",
                   f"gdrive://folder/{AUTHORS_DRIVE_FOLDER}", None, None, None,
                   "the authors' terms (repository: Apache-2.0; the Drive folder states no separate license)"),
)


def lookup(name: str) -> CatalogueEntry | None:
    for e in CATALOGUE:
        if e.name == name:
            return e
    return None


_FOLD = re.compile(r"(?:split|fold)[_\-]?([0-3])(?![0-9])", re.IGNORECASE)
_SHOT = re.compile(r"([15])[_\-]?shot", re.IGNORECASE)


def guess_from_path(path: str) -> dict[str, object]:
    """Dataset, fold, shots and backbone a file path states, e.g. ``pascal/split0/resnet50/1shot/best.pth``.

    Returns only the keys found: ``{"dataset": "pascal", "fold": 0, "shots": 1, "layers": 50}``.
    """
    low = path.lower()
    out: dict[str, object] = {}
    if "pascal" in low or "voc" in low:
        out["dataset"] = "pascal"
    elif "coco" in low:
        out["dataset"] = "coco"
    if m := _FOLD.search(path):
        out["fold"] = int(m.group(1))
    if m := _SHOT.search(path):
        out["shots"] = int(m.group(1))
    if m := re.search(r"resnet[_\-]?(50|101)", low):
        out["layers"] = int(m.group(1))
    return out
