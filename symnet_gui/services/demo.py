"""Seeding a freshly generated demo project (Qt-free).

``symnet_core.training.synthetic.demo_folder.make_demo_folder`` writes the demo images plus, in ``.supports/``, the
masks of the first few images (value 1 = the demo class) and ``.demo.json`` with the class name.
:func:`seed_demo_project` turns those into project classes and supports, so a newcomer can press
Propagate straight away. It only acts on a project that has no supports yet.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from symnet_core.project import Project, ProjectError

log = logging.getLogger(__name__)

__all__ = ["seed_demo_project"]


def seed_demo_project(project: Project) -> int:
    """Import the demo's support masks; returns how many supports were added."""
    root = Path(project.images_root)
    manifest_path = root / ".demo.json"
    if project.read_only or project.supports() or not manifest_path.is_file():
        return 0
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("unreadable demo manifest %s: %s", manifest_path, exc)
        return 0
    name = str(manifest.get("class_name") or "object")
    classes = project.classes
    if len(classes) == 1 and classes[0].name == "object":
        cls = project.rename_class(classes[0].id, name)
    else:
        cls = project.class_by_name(name) or project.add_class(name)
    added = 0
    for file_name in manifest.get("supports", []):
        mask_path = root / ".supports" / file_name
        if file_name not in project or not mask_path.is_file():
            continue
        try:
            with Image.open(mask_path) as im:
                binary = np.asarray(im) > 0
            project.set_mask(file_name, binary.astype(np.uint8) * cls.id, status="support")
            added += 1
        except (OSError, ValueError, ProjectError) as exc:
            log.warning("demo support %s not imported: %s", file_name, exc)
    log.info("demo project: class '%s', %d support(s)", name, added)
    return added
