"""Review status of an image, and which statuses each operation may touch.

One field, ``ImageRecord.status``, carries both the review state and support membership:

============  ==========================================================  ============
status        meaning                                                     mask file
============  ==========================================================  ============
unlabelled    nothing yet                                                 none
support       painted by the user and used as a support for propagation   yes
predicted     written by propagation, not reviewed                        yes
accepted      a prediction the user accepted as correct                   yes, or none
                                                                          (= verified empty)
rejected      a prediction the user rejected (kept on disk for reference) yes
edited        painted or corrected by the user, not a support             yes
============  ==========================================================  ============

``support``, ``accepted`` and ``edited`` are *human-verified* (:data:`HUMAN_VERIFIED`): no
automatic operation ever overwrites them, whatever its scope. Propagation may write only
:data:`PROPAGATION_WRITABLE` images.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["HUMAN_VERIFIED", "PROPAGATION_WRITABLE", "ImageStatus"]


class ImageStatus(str, Enum):
    """Review status; the value is what ``project.json`` stores."""

    UNLABELLED = "unlabelled"
    SUPPORT = "support"
    PREDICTED = "predicted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EDITED = "edited"

    def __str__(self) -> str:
        return self.value


#: Masks a person made or approved: never overwritten by propagation, exported by default.
HUMAN_VERIFIED: frozenset[ImageStatus] = frozenset({ImageStatus.SUPPORT, ImageStatus.ACCEPTED, ImageStatus.EDITED})

#: Statuses propagation may replace with a new prediction.
PROPAGATION_WRITABLE: frozenset[ImageStatus] = frozenset(
    {ImageStatus.UNLABELLED, ImageStatus.PREDICTED, ImageStatus.REJECTED}
)
