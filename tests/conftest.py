"""Shared pytest setup: headless Qt, no network, small helpers.

Environment defaults are set at import time of this file, i.e. before any test module imports
Qt or huggingface_hub (both read these variables once, when first imported).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Without a display Qt would abort the whole test process; "offscreen" renders in memory.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No test may touch the network: huggingface_hub (used by open_clip) fails at once when offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_python(
    code: str, *, timeout: float = 120.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter from the repository root; return the completed process.

    For checks that depend on what a new process has imported (``sys.modules``), which an
    in-process test cannot see cleanly.
    """
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def python_subprocess():
    """The :func:`run_python` helper as a fixture."""
    return run_python
