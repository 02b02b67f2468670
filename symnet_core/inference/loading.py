"""Building a ready-to-use :class:`Predictor` from a checkpoint file (shared by the CLI and the GUI worker).

The checkpoint tells which text encoder its model was trained with
(:attr:`CheckpointInfo.text_encoder`); this module builds the matching embedder:

* ``word2vec`` — the authors' tables; needs ``word2vec=PATH`` (their ``word2vec_<dataset>.pkl``).
  Without it predictions run with a zero text vector and a warning.
* ``clip`` — open_clip's text tower (``model``, ``pretrained`` from the metadata). Uncached
  weights fail within ~2 s unless ``allow_download``.
* ``hashed`` — the fixed per-name unit vectors of models trained on synthetic data
  (:class:`symnet_core.training.synthetic.generator.HashTextEmbedder`, with the checkpoint's ``salt``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedPredictor:
    """A predictor plus what the user should be told about it.

    :meth:`new_predictor` makes another predictor sharing the same model (weights are not
    copied; always with the checkpoint's head, never an adapted one): propagation uses one per
    class so each class's supports are encoded once.
    """

    predictor: object  # symnet_core.inference.predictor.Predictor (typed loosely to keep this import light)
    description: str
    warnings: tuple[str, ...]

    def new_predictor(self) -> object:
        p = self.predictor
        model = getattr(p, "_base_model", p.model)  # the checkpoint's own head, even if ``p`` was adapted
        return type(p)(
            model, p.device, text_embedder=p.text_embedder, threshold=p.threshold,  # type: ignore[attr-defined]
            use_base_learner=p.use_base_learner, precision=p.precision,  # type: ignore[attr-defined]
            resize=p.resize, model_id=p.model_id,  # type: ignore[attr-defined]
            channels_last=p.channels_last, compile=p.compile,  # type: ignore[attr-defined]
        )


def checkpoint_id(path: str | os.PathLike[str]) -> str:
    """``name#digest``: SHA-256 of the file's size, first and last MiB (fast on 200 MB files)."""
    from pathlib import Path

    p = Path(path)
    h = hashlib.sha256(str(p.stat().st_size).encode())
    with open(p, "rb") as f:
        h.update(f.read(1 << 20))
        if p.stat().st_size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read())
    return f"{p.name}#{h.hexdigest()[:12]}"


def build_text_embedder(
    text_encoder: dict, text_dim: int, *, word2vec: str | os.PathLike[str] | None = None,
    allow_download: bool = False, device: str = "cpu",
) -> tuple[object | None, list[str]]:
    """The embedder a checkpoint's metadata asks for, or ``None`` with a warning saying why."""
    kind = (text_encoder or {}).get("kind")
    if kind == "hashed":
        from symnet_core.training.synthetic.generator import HashTextEmbedder

        return HashTextEmbedder(text_dim, str(text_encoder.get("salt", "symnet-synthetic"))), []
    if kind == "clip":
        from symnet_core.inference.text_embeddings import ClipTextEncoder

        enc = ClipTextEncoder(
            text_encoder.get("model", "RN50"), text_encoder.get("pretrained", "openai"),
            device=device, allow_download=allow_download,
        )
        enc.load()  # fails fast (TextEncoderUnavailable) when the weights are not cached
        if enc.dim != text_dim:
            raise ValueError(f"CLIP {enc.model_name} gives {enc.dim}-d features but the model expects {text_dim}")
        return enc, []
    if kind == "word2vec":
        if word2vec is None:
            return None, [
                "this checkpoint was trained with the authors' word2vec class vectors: pass their "
                f"word2vec_{text_encoder.get('dataset', 'pascal')}.pkl (--word2vec) for full accuracy"
            ]
        from symnet_core.inference.text_embeddings import Word2VecTable

        return Word2VecTable.from_pickle(word2vec, dataset=text_encoder.get("dataset", "pascal")), []
    return None, ["the checkpoint does not record its text encoder: class names are not used"]


def load_predictor(
    checkpoint: str | os.PathLike[str],
    *,
    device: str = "auto",
    threshold: float = 0.5,
    meta_only: bool = False,
    word2vec: str | os.PathLike[str] | None = None,
    allow_download: bool = False,
    precision: str = "fp32",
    resize: str | None = None,
) -> LoadedPredictor:
    """Load ``checkpoint`` and wrap it in a :class:`Predictor` with the right text embedder.

    ``resize``: ``"fit"`` / ``"shrink-only"``, or ``None`` for the checkpoint's own evaluation
    resize (:func:`symnet_core.inference.transforms.resize_mode_for`: ``"fit"`` for the authors' files).

    Raises :class:`symnet_core.model.checkpoints.CheckpointError` for unusable files and
    :class:`symnet_core.inference.text_embeddings.TextEncoderUnavailable` when CLIP weights are missing.
    """
    from symnet_core.device import resolve_device
    from symnet_core.inference.predictor import Predictor
    from symnet_core.inference.transforms import resize_mode_for
    from symnet_core.model.checkpoints import load_checkpoint

    dev = resolve_device(device)
    model = load_checkpoint(checkpoint, device=dev)
    info = model.checkpoint_info  # type: ignore[attr-defined]
    embedder, warnings = build_text_embedder(
        dict(info.text_encoder), info.config.text_dim, word2vec=word2vec, allow_download=allow_download,
        device=str(dev),
    )
    own = resize_mode_for(info)
    model_id = checkpoint_id(checkpoint)
    if resize is not None and resize != own:  # other predictions: a run must not resume as if the same
        model_id += f" resize={resize}"
    predictor = Predictor(
        model, dev, text_embedder=embedder, threshold=threshold, use_base_learner=not meta_only,
        precision=precision, resize=resize or own, model_id=model_id,
    )
    for w in warnings:
        log.warning("%s: %s", checkpoint, w)
    return LoadedPredictor(predictor, f"{info.describe()} on {dev}, letterbox {predictor.resize}",  # type: ignore[attr-defined]
                           tuple(warnings))  # fmt: skip


def default_checkpoint() -> str | None:
    """The bundled demo model, when the installation has one."""
    from symnet_core.assets import demo_model_path

    path = demo_model_path()
    return str(path) if path.is_file() else None
