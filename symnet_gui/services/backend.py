"""How the worker gets a model: :class:`CheckpointBackend` for real checkpoints.

A *backend* turns a :class:`~symnet_gui.services.types.ModelSpec` into a :class:`LoadedModel`
that makes predictors (anything following ``symnet_core.workflows.propagation.PredictorLike``). Tests
inject their own backend (a fake predictor, or a tiny real model) into ``InferenceService``.

Everything here runs **on the inference worker thread**: torch, the predictor, checkpoints and
text encoders are imported inside functions, never at module import, so the window can appear
before torch is loaded.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from symnet_gui.platform.paths import data_dir
from symnet_gui.services.types import ModelInfo, ModelSpec, ServiceError

log = logging.getLogger(__name__)

__all__ = ["APP_PRECISION", "CheckpointBackend", "FactoryBackend", "LoadedModel", "ModelBackend", "ServiceFailure"]

# torch's OpenMP worker threads spin while they wait for work unless told otherwise. In the GUI
# process they share the CPUs with the GUI thread (and often with other programs): on 2 vCPU with
# one other busy process, the demo model predicted 1.5-3.8 s/image with 2 spinning threads and
# 0.095 s/image with passive ones, and the GUI heartbeat's p95 gap during a propagation fell from
# 16 ms to 6 ms (bench/bench_gui.py). OpenMP reads this once, when torch is imported — here that
# is later, on the worker thread. An explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The app predicts in fp32 on every device and offers no precision choice: bf16 autocast on a CPU
# without oneDNN bf16 kernels (AVX2-only) is many times slower than fp32 (docs/performance.md), so it is
# never picked up by default. A precision control would have to show the user, through the
# services' plain data, when bf16 is slow on this CPU (``symnet_core.inference.predictor.cpu_has_fast_bf16``).
APP_PRECISION = "fp32"


class ServiceFailure(Exception):
    """A job failed in a way the user can act on; carries a :class:`ServiceError`."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(error.message)
        self.error = error


class LoadedModel(Protocol):
    info: ModelInfo

    def make_predictor(self, threshold: float, use_base_learner: bool) -> Any:
        """A fresh predictor (own support cache) sharing the loaded weights."""


class ModelBackend(Protocol):
    def load(self, spec: ModelSpec) -> LoadedModel:
        """Load (on the worker thread). Raise :class:`ServiceFailure` with a hint on bad input."""


@dataclass
class _Loaded:
    info: ModelInfo
    factory: Callable[[float, bool], Any]

    def make_predictor(self, threshold: float, use_base_learner: bool) -> Any:
        return self.factory(threshold, use_base_learner)


class FactoryBackend:
    """Wraps a ``make(threshold, use_base_learner) -> predictor`` callable (tests, embedding).

    Args:
        make: predictor factory; called on the worker thread.
        info: what the model panel shows.
        load_delay_s: pretend loading takes this long (tests of the "loading" state).
        fail: raise this :class:`ServiceError` from :meth:`load` instead.
    """

    def __init__(self, make: Callable[[float, bool], Any], info: ModelInfo | None = None, *,
                 load_delay_s: float = 0.0, fail: ServiceError | None = None) -> None:
        self._make = make
        self._info = info or ModelInfo(model_id="fake", description="test model", device="cpu")
        self._delay = load_delay_s
        self._fail = fail

    def load(self, spec: ModelSpec) -> LoadedModel:
        if self._delay:
            time.sleep(self._delay)
        if self._fail is not None:
            raise ServiceFailure(self._fail)
        return _Loaded(self._info, self._make)


class CheckpointBackend:
    """Loads ``symnet_core`` checkpoints and the matching class-name embedder."""

    def load(self, spec: ModelSpec) -> LoadedModel:
        t0 = time.monotonic()
        path = Path(spec.checkpoint).expanduser()
        if not path.is_file():
            raise ServiceFailure(ServiceError(
                "model", f"Checkpoint not found: {path}",
                "Use Model ▸ Open checkpoint… to choose a Sym-Net checkpoint (.pth)."))
        from symnet_core.device import resolve_device
        from symnet_core.inference.loading import checkpoint_id
        from symnet_core.inference.predictor import Predictor
        from symnet_core.model.checkpoints import CheckpointError, load_checkpoint

        try:
            device = resolve_device(spec.device)
        except ValueError as exc:
            raise ServiceFailure(ServiceError("model", str(exc), "Choose another device in the Model panel.")) from exc
        try:
            model = load_checkpoint(path, device)
        except CheckpointError as exc:
            raise ServiceFailure(ServiceError(
                "model", f"Not a usable Sym-Net checkpoint: {exc}",
                "Choose one of the authors' released checkpoints or one trained with symnet-train.")) from exc
        except (OSError, RuntimeError) as exc:
            raise ServiceFailure(ServiceError(
                "model", f"Could not load {path.name}: {exc}",
                "If the GPU ran out of memory, choose the CPU in the Model panel.")) from exc
        ckpt = model.checkpoint_info
        embedder, text_desc, warnings = _text_embedder(ckpt, path, str(device), model.config.text_dim)
        info = ModelInfo(
            model_id=checkpoint_id(path),
            description=ckpt.describe(),
            device=str(device),
            text_encoder=text_desc,
            warnings=tuple(warnings),
            can_adapt=callable(getattr(Predictor, "adaptation_inputs", None)),
            load_seconds=time.monotonic() - t0,
        )
        dev = str(device)

        def make(threshold: float, use_base_learner: bool) -> Any:
            t = min(max(float(threshold), 0.01), 0.99)
            return Predictor(model, dev, text_embedder=embedder, threshold=t, use_base_learner=use_base_learner,
                             precision=APP_PRECISION, model_id=info.model_id)

        log.info("loaded %s on %s in %.1f s: %s", path, dev, info.load_seconds, info.description)
        return _Loaded(info, make)


def _find_word2vec(te: dict[str, Any], ckpt_path: Path) -> Path | None:
    dataset = str(te.get("dataset") or "pascal")
    names = [te["path"]] if te.get("path") else []
    names += [f"word2vec_{dataset}.pkl"]
    for name in names:
        for folder in (ckpt_path.parent, data_dir() / "word2vec"):
            p = Path(name) if os.path.isabs(name) else folder / name
            if p.is_file():
                return p
    from symnet_core.weights import Registry, RegistryError

    try:  # a table installed with Model ▸ Models… / `symnet-annotate models get word2vec-<dataset>`
        registry = Registry()
        entry = registry.find_word2vec(dataset)
    except RegistryError as exc:
        log.warning("%s", exc)
        return None
    return registry.file_of(entry) if entry is not None and registry.file_of(entry).is_file() else None


def _text_embedder(ckpt: Any, path: Path, device: str, dim: int) -> tuple[Any, str, list[str]]:
    """(embedder or None, description, warnings) for the text encoder a checkpoint records.

    Uses :func:`symnet_core.inference.loading.build_text_embedder` (shared with the headless CLI); a
    missing word2vec table or uncached CLIP weights give a warning, never an error: the model
    then runs with a zero text vector, i.e. on appearance only.
    """
    from symnet_core.inference.loading import build_text_embedder
    from symnet_core.inference.text import TextEncoderUnavailable

    te = dict(getattr(ckpt, "text_encoder", {}) or {})
    kind = str(te.get("kind", "")) or "none recorded"
    label = {"clip": f"CLIP {te.get('model', 'RN50')}", "word2vec": f"word2vec ({te.get('dataset', 'pascal')})",
             "hashed": "fixed per-name vectors (synthetic training)"}.get(kind, kind)
    table = _find_word2vec(te, path) if kind == "word2vec" else None
    try:
        embedder, warnings = build_text_embedder(te, dim, word2vec=table, device=device)
    except (TextEncoderUnavailable, ValueError, OSError) as exc:
        return None, f"{label} (unavailable)", [
            f"{exc} Until then class names are not used: predictions rely on appearance only."]
    if kind == "word2vec" and table is None:
        ds = te.get("dataset", "pascal")
        warnings = [*warnings[:-1], f"Install word2vec-{ds} in Model ▸ Models… (or put word2vec_{ds}.pkl next to "
                    f"the checkpoint or in {data_dir() / 'word2vec'}) and reload; until then class names are not used."]
    return embedder, label if embedder is not None else f"{label} (not used)", list(warnings)
