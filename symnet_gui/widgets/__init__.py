"""Panels and dialogs of the main window; each is its own small widget."""

from __future__ import annotations
