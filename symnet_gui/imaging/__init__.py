"""Pictures as arrays (numpy + OpenCV; no Qt, no torch): what the canvas and the thumbnails draw,
computed where it can be tested and reused without a display. Qt conversion stays with the callers."""

from __future__ import annotations
