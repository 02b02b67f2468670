"""The annotation project store: images, classes, masks and review status, beside the images.

Typical use (GUI and headless CLI alike)::

    from symnet_core.project import Project, ImageStatus

    with Project.open_or_create("/data/cells", classes=["cell"]) as project:
        for rec in project.images:            # frozen ImageRecord, naturally sorted
            ...
        project.set_mask(key, mask)           # H x W uint8 class ids -> status "edited"
        project.set_support(key)              # use it as a support for propagation
        project.set_status(key, "accepted")

See ``docs/project-format.md`` for the files and ``store.py`` for durability and threading.
"""

from __future__ import annotations

from symnet_core.project.errors import (
    ProjectError,
    ProjectExistsError,
    ProjectFormatError,
    ProjectLockedError,
    ProjectNotFoundError,
    ProjectVersionError,
    ProjectWriteError,
)
from symnet_core.project.schema import (
    PROJECT_DIR_NAME,
    SCHEMA_VERSION,
    ClassRecord,
    ImageRecord,
    RunRecord,
    mask_file_name,
)
from symnet_core.project.status import HUMAN_VERIFIED, PROPAGATION_WRITABLE, ImageStatus
from symnet_core.project.store import Project

__all__ = [
    "HUMAN_VERIFIED",
    "PROJECT_DIR_NAME",
    "PROPAGATION_WRITABLE",
    "SCHEMA_VERSION",
    "ClassRecord",
    "ImageRecord",
    "ImageStatus",
    "Project",
    "ProjectError",
    "ProjectExistsError",
    "ProjectFormatError",
    "ProjectLockedError",
    "ProjectNotFoundError",
    "ProjectVersionError",
    "ProjectWriteError",
    "RunRecord",
    "mask_file_name",
]
