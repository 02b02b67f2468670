"""Files shipped inside the package (package data), found with :mod:`importlib.resources`.

``demo/`` holds the demo model (``demo_model.pth``), the configs it was trained with
(``demo_base.yaml``, ``demo.yaml``) and its measured metrics. Nothing here computes a path from
the repository layout: an installed wheel finds the same files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["demo_config", "demo_dir", "demo_model_path"]


def demo_dir() -> Path:
    """The folder holding the demo model and its configs (a real directory: the package is never zipped)."""
    return Path(str(files(__name__) / "demo"))


def demo_model_path() -> Path:
    """``demo/demo_model.pth``; the file may be missing in a source tree without the model."""
    return demo_dir() / "demo_model.pth"


def demo_config() -> Path:
    """``demo/demo.yaml``: the meta-stage config, also the evaluation protocol's config."""
    return demo_dir() / "demo.yaml"
