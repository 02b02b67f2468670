"""The one place that decides which torch device a model runs on."""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N" | "mps"`` into a :class:`torch.device`.

    ``"auto"`` (or ``None``) picks CUDA when available, then Apple MPS, then the CPU. An explicit
    device that is not available raises :class:`ValueError` with a message a user can act on.
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    name = (spec or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {spec!r}: use auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} requested but this torch build sees no CUDA GPU")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {spec!r} requested but only {torch.cuda.device_count()} GPU(s) exist")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {spec!r} requested but MPS is not available")
    elif device.type != "cpu":
        raise ValueError(f"unsupported device type {device.type!r}")
    return device
