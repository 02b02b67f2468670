"""Predictor: numpy in, numpy out; support features computed once, many queries.

Usage::

    predictor = Predictor(load_checkpoint("model.pth"), device="auto", text_embedder=embedder)
    predictor.set_supports([img1, img2], [mask1, mask2], "potted plant")
    for pred in predictor.iter_predict(images, batch_size=4):
        ...

Not thread-safe: use one predictor from one thread (the GUI's inference worker owns it).

Support counts that differ from the checkpoint's K (see :attr:`SupportSummary.fusion`):

* ``native`` — the model's own K-shot forward (n = K, or n = 1).
* ``repeat`` — K-shot model, n < K: the supports are repeated cyclically to fill the K shots.
* ``nearest-k`` — K-shot model, n > K: for each query the K supports whose layer-2 Gram matrices
  are closest to the query's (the distance the model itself uses for shot weighting).
* ``gram-weighted-mean`` — 1-shot model, n > 1: one 1-shot pass per support; foreground
  probabilities averaged with weights ∝ 1 / Gram distance (closer supports count more).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import nullcontext
from itertools import islice
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from symnet_core.cancel import CancelLike, check_cancel
from symnet_core.device import resolve_device
from symnet_core.inference.embedding import pooled_embeddings
from symnet_core.inference.transforms import (
    RESIZE_MODES,
    Letterbox,
    image_to_model,
    mask_to_model,
    model_to_image,
    resize_mode_for,
)
from symnet_core.inference.types import Prediction, SupportSummary
from symnet_core.model.backbone import extract_features
from symnet_core.model.gram import gram_distance
from symnet_core.model.symnet import QueryEncoding, SupportEncoding, SymNet

log = logging.getLogger(__name__)


def cpu_has_fast_bf16() -> bool:
    """Whether oneDNN has bf16 kernels on this CPU (AVX512-BF16 or AMX); without them bf16 autocast
    on the CPU falls back to slow reference convolutions (measured 34x slower than fp32 on an AVX2-only
    CPU, docs/performance.md)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False

Progress = Callable[[int, int | None], None]
PRECISIONS = ("fp32", "bf16", "fp16")
_GRAM_WEIGHT_EPS = 1e-6


def check_rgb(image: np.ndarray, what: str) -> None:
    """Raise ValueError unless ``image`` is an HxWx3 uint8 array."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{what}: expected a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what}: expected an HxWx3 RGB array, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{what}: expected dtype uint8, got {image.dtype}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{what}: image has no pixels (shape {image.shape})")


def _check_mask(mask: np.ndarray, image: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"{what}: expected an HxW mask array, got {getattr(mask, 'shape', type(mask).__name__)}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"{what}: mask is {mask.shape[1]}x{mask.shape[0]} but the image is "
                         f"{image.shape[1]}x{image.shape[0]}")
    if mask.dtype != bool:
        values = np.unique(mask)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"{what}: mask must be bool or 0/1, found values {values[:8].tolist()}")
        mask = mask.astype(bool)
    if not mask.any():
        raise ValueError(f"{what}: the mask is empty — paint the object before using the image as a support")
    return mask


def confidence_score(probability: np.ndarray, threshold: float) -> float:
    """Confidence of one prediction, in [0,1].

    Certainty of a pixel = |p − t| / max(t, 1 − t). The score is the mean certainty over the
    predicted object and its uncertain surroundings (pixels with p > t/2); when no pixel is there
    (a confidently empty prediction) it is the mean certainty of the whole image.
    """
    p = probability.astype(np.float32, copy=False)
    certainty = np.abs(p - threshold) / max(threshold, 1.0 - threshold)
    region = p > threshold / 2
    values = certainty[region] if region.any() else certainty
    return float(np.clip(values.mean(), 0.0, 1.0)) if values.size else 0.0


def _select_query(q: QueryEncoding, index: torch.Tensor) -> QueryEncoding:
    return QueryEncoding(
        mid=q.mid[index], layer4=q.layer4[index], hyper=[h[index] for h in q.hyper],
        gram=q.gram[index], base_logits=None if q.base_logits is None else q.base_logits[index],
    )  # fmt: skip


class AdaptationInputs(NamedTuple):
    """A predictor's supports as head adaptation needs them (:meth:`Predictor.adaptation_inputs`).

    Attributes:
        model: the checkpoint's model (eval mode, on the predictor's device).
        images: HxWx3 uint8 RGB supports. masks: HxW bool masks, one per image (image pixels).
        class_name: the class name or ``None``. text: float ``[1, D]`` class-name vector on the device.
    """

    model: SymNet
    images: list[np.ndarray]
    masks: list[np.ndarray]
    class_name: str | None
    text: torch.Tensor


class Predictor:
    """Few-shot segmentation of many query images with one set of supports.

    Args:
        model: a :class:`SymNet` (e.g. from :func:`symnet_core.load_checkpoint`).
        device: ``"auto"`` (cuda > mps > cpu), ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.
        text_embedder: turns a class name into the model's text vector (``embed(name) -> (vector,
            warning)``, ``dim``); ``None`` → a zero vector with a warning unless ``text`` is given.
        threshold: foreground threshold on the probability (0.5 = the authors' argmax).
        use_base_learner: ``False`` = meta-only (use for classes that are base classes of the
            checkpoint, which the ensemble pushes to background).
        precision: ``"fp32"``, or ``"bf16"``/``"fp16"`` autocast (fp16 on CUDA only).
        channels_last: NHWC memory layout for the model and its inputs; ``None`` = on CUDA only
            (faster convolutions there, docs/performance.md "GPU"); the CPU keeps NCHW.
        compile: wrap ``encode_query`` and ``decode`` in :func:`torch.compile` (off by default:
            the first batch of every new shape compiles for tens of seconds).
        resize: how images are letterboxed (:mod:`symnet_core.inference.transforms`): ``"fit"`` (the
            authors' configured evaluation: every image's longer side scaled to the model input
            and floored to a multiple of 8, small images enlarged) or ``"shrink-only"`` (only
            larger images are resized). ``None`` (default): what the checkpoint was evaluated
            with (:func:`symnet_core.inference.transforms.resize_mode_for`): ``"fit"`` for the authors'
            checkpoints and bare models.
        model_id: a name for the model, stored with every prediction (checkpoint name + digest).
    """

    def __init__(
        self,
        model: SymNet,
        device: str | torch.device = "auto",
        *,
        text_embedder: object | None = None,
        threshold: float = 0.5,
        use_base_learner: bool = True,
        precision: str = "fp32",
        resize: str | None = None,
        model_id: str = "symnet",
        channels_last: bool | None = None,
        compile: bool = False,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError("fp16 autocast needs a CUDA device; use bf16 on the CPU")
        if precision == "bf16" and self.device.type == "cpu" and not cpu_has_fast_bf16():
            log.warning("bf16 on this CPU has no oneDNN bf16 kernels (no AVX512-BF16/AMX): convolutions take "
                        "PyTorch's slow path and predict is many times slower than fp32 — use fp32 here")
        self.channels_last = self.device.type == "cuda" if channels_last is None else bool(channels_last)
        self.compile = bool(compile)
        self._compiled: tuple[SymNet, Callable[..., QueryEncoding], Callable[..., object]] | None = None
        self.model = self._placed(model).eval()
        self.text_embedder = text_embedder
        self.threshold = float(threshold)
        self.use_base_learner = use_base_learner
        self.precision = precision
        if resize is None:
            resize = resize_mode_for(getattr(model, "checkpoint_info", None))
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
        self.resize = resize
        self.model_id = model_id
        self._shots: list[SupportEncoding] = []
        self._text: torch.Tensor | None = None
        # what set_supports was given (validated), to re-encode after a head change
        self._support_args: tuple[list[np.ndarray], list[np.ndarray], str | None, np.ndarray | None] | None = None
        self.summary: SupportSummary | None = None
        self._base_model = self.model
        #: ``None``, or the report / metadata of the adapted head in use (:meth:`load_head`;
        #: :func:`symnet_core.adaptation.adapt_predictor` sets it through that).
        self.adaptation: dict[str, object] | None = None

    # ------------------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.model.config.image_size

    @property
    def has_supports(self) -> bool:
        return bool(self._shots)

    def _placed(self, model: SymNet) -> SymNet:
        """``model`` on this predictor's device, in NHWC layout when :attr:`channels_last`."""
        if self.channels_last:
            return model.to(self.device, memory_format=torch.channels_last)
        return model.to(self.device)

    def _to_device(self, batch: list[torch.Tensor]) -> torch.Tensor:
        """Stack CPU tensors into one batch on the device: through pinned memory with an
        asynchronous copy on CUDA, in NHWC layout when :attr:`channels_last`."""
        if self.device.type == "cuda":
            pinned = torch.empty((len(batch), *batch[0].shape), dtype=batch[0].dtype, pin_memory=True)
            x = torch.stack(batch, out=pinned).to(self.device, non_blocking=True)
        else:
            x = torch.stack(batch).to(self.device)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.ndim == 4 else x

    def _functions(self) -> tuple[Callable[..., QueryEncoding], Callable[..., object]]:
        """``(encode_query, decode)`` of the model in use, compiled once per model when :attr:`compile`."""
        if not self.compile:
            return self.model.encode_query, self.model.decode
        if self._compiled is None or self._compiled[0] is not self.model:
            self._compiled = (self.model, torch.compile(self.model.encode_query), torch.compile(self.model.decode))
        return self._compiled[1], self._compiled[2]

    def _autocast(self) -> object:
        if self.precision == "fp32":
            return nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _text_vector(self, class_name: str | None, text: np.ndarray | None) -> tuple[torch.Tensor, list[str]]:
        dim = self.model.config.text_dim
        warnings: list[str] = []
        if text is None:
            if self.text_embedder is None or not class_name:
                warnings.append("no class-name embedding available: using a zero text vector (weaker predictions)")
                vec = np.zeros(dim, np.float32)
            else:
                vec, warning = self.text_embedder.embed(class_name)  # type: ignore[attr-defined]
                if warning:
                    warnings.append(warning)
        else:
            vec = text
        vec = np.asarray(vec, np.float32).reshape(-1)
        if vec.shape[0] != dim:
            raise ValueError(f"text embedding has {vec.shape[0]} values but the model expects {dim}")
        return torch.from_numpy(vec).to(self.device).unsqueeze(0), warnings

    def clear_supports(self) -> None:
        """Drop the cached support features."""
        self._shots, self._text, self.summary = [], None, None
        self._support_args = None

    @torch.inference_mode()
    def set_supports(
        self,
        images: Sequence[np.ndarray],
        masks: Sequence[np.ndarray],
        class_name: str | None = None,
        *,
        text: np.ndarray | None = None,
    ) -> SupportSummary:
        """Encode the supports once (backbone, masked features, prototypes, APA, Gram, SPM keys).

        Args:
            images: HxWx3 uint8 RGB arrays of any size.
            masks: HxW bool (or 0/1) arrays, same size as their image, not empty.
            class_name: the class's name (text prompt for the embedder).
            text: an explicit text vector [D] instead of the embedder.

        Raises:
            ValueError: bad arrays, an empty mask, a size mismatch, or an object too small to
                reach the model's feature grid.
        """
        if len(images) == 0 or len(images) != len(masks):
            raise ValueError(f"need ≥ 1 support image and one mask each, got {len(images)} images, {len(masks)} masks")
        prepared = []
        for i, (img, msk) in enumerate(zip(images, masks, strict=True)):
            check_rgb(img, f"support {i + 1}")
            prepared.append((img, _check_mask(msk, img, f"support {i + 1}")))
        text_t, warnings = self._text_vector(class_name, text)
        shots: list[SupportEncoding] = []
        f = self.model.config.feature_size
        for i, (img, msk) in enumerate(prepared):
            box = Letterbox.fit(img.shape[0], img.shape[1], self.size, self.resize)
            x = self._to_device([torch.from_numpy(image_to_model(img, box))])
            y = self._to_device([torch.from_numpy(mask_to_model(msk, box))])
            with self._autocast():
                enc = self.model.encode_support(x, y, text_t)
            if not bool((enc.mask_grid == 1).any()):
                # The authors' model runs such a support, with an all-zero prototype and no
                # support-query correlation: its prediction would not depend on the painted object.
                raise ValueError(
                    f"support {i + 1}: the painted object is too small for the model — after resizing the image to "
                    f"{self.size}px it covers no cell of the {f}×{f} feature grid (objects need ≳ 8 px at that "
                    "scale). The model would still run, but with an empty object prototype, so its prediction "
                    "would ignore the painted object; paint a larger region or use a closer crop as support"
                )
            shots.append(enc)
        k, n = self.model.config.shots, len(shots)
        if n == k or n == 1:
            fusion = "native"
        elif k == 1:
            fusion = "gram-weighted-mean"
        else:
            fusion = "repeat" if n < k else "nearest-k"
        if fusion != "native":
            warnings.append(f"{n} supports with a {k}-shot model: fused by {fusion}")
        self._shots, self._text = shots, text_t
        self._support_args = ([p[0] for p in prepared], [p[1] for p in prepared], class_name, text)
        self.summary = SupportSummary(n, class_name, fusion, tuple(warnings))
        for w in warnings:
            log.info("set_supports: %s", w)
        return self.summary

    # ------------------------------------------------------------------------------------------
    def adaptation_inputs(self) -> AdaptationInputs:
        """What head adaptation (:func:`symnet_core.adaptation.adapt_predictor`) trains on: the
        checkpoint's own model (never an adapted copy), the current supports as given to
        :meth:`set_supports` (validated), the class name and the ``[1, D]`` text vector.

        Raises:
            RuntimeError: no supports yet.
        """
        if not self._shots or self._support_args is None or self._text is None:
            raise RuntimeError("no supports: call set_supports() first")
        images, masks, class_name, _ = self._support_args
        return AdaptationInputs(self._base_model, list(images), list(masks), class_name, self._text)

    def head_state(self) -> dict[str, torch.Tensor]:
        """The head weights in use (official key names; save them with :func:`save_adapted_head`)."""
        return self.model.head_state_dict()

    def load_head(self, state: dict[str, torch.Tensor], metadata: dict[str, object] | None = None) -> None:
        """Use an adapted head (from :meth:`head_state` / :func:`load_adapted_head`) with this model.

        Raises:
            ValueError: keys or shapes that do not belong to this model's head.
        """
        own = self._base_model.head_state_dict()
        missing = sorted(set(own) - set(state))
        extra = sorted(set(state) - set(own))
        wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or extra or wrong:
            raise ValueError(f"adapted head does not fit this model: missing {missing[:3]}, unexpected {extra[:3]}, "
                             f"shapes differ {wrong[:3]}")  # fmt: skip
        model = self._base_model.with_own_head()
        model.load_state_dict(state, strict=False)
        for mod in model.trainable_modules():  # the copy is for inference only
            mod.requires_grad_(False)
        self._use_model(self._placed(model).eval(), dict(metadata or {}))

    def reset_head(self) -> None:
        """Back to the checkpoint's own head (supports re-encoded)."""
        self._use_model(self._base_model, None)

    def _use_model(self, model: SymNet, adaptation: dict[str, object] | None) -> None:
        self.model = model
        self.adaptation = adaptation
        if self._support_args is not None:
            images, masks, class_name, text = self._support_args
            self.set_supports(images, masks, class_name, text=text)

    # ------------------------------------------------------------------------------------------
    def _difference(self, query: QueryEncoding, shots: list[SupportEncoding]) -> torch.Tensor:
        """Foreground-minus-background score [B,1,S,S] on the model canvas (sigmoid = probability)."""
        assert self._text is not None
        out = self._functions()[1](query, shots, self._text, upsample=False)
        logits = out.final if self.use_base_learner else out.meta
        d = (logits[:, 1:2] - logits[:, 0:1]).float()
        return F.interpolate(d, size=(self.size, self.size), mode="bilinear", align_corners=True)

    def _canvas_probability(self, query: QueryEncoding) -> torch.Tensor:
        """Foreground probability [B,S,S] on the model canvas, fusing supports as documented."""
        shots, k = self._shots, self.model.config.shots
        n = len(shots)
        if n == k or n == 1:
            return torch.sigmoid(self._difference(query, shots))[:, 0]
        if k == 1:
            dist = torch.stack([gram_distance(query.gram, s.gram) for s in shots], 1)
            w = 1.0 / (dist + _GRAM_WEIGHT_EPS)
            w = (w / w.sum(dim=1, keepdim=True)).float()
            prob = sum(w[:, i, None, None] * torch.sigmoid(self._difference(query, [s]))[:, 0]
                       for i, s in enumerate(shots))
            return prob  # type: ignore[return-value]
        if n < k:
            return torch.sigmoid(self._difference(query, [shots[i % n] for i in range(k)]))[:, 0]
        dist = torch.stack([gram_distance(query.gram, s.gram) for s in shots], 1)
        chosen = dist.topk(k, dim=1, largest=False).indices.sort(dim=1).values  # [B,K]
        out = torch.empty((query.mid.shape[0], self.size, self.size), device=self.device)
        for subset in torch.unique(chosen, dim=0):
            rows = (chosen == subset).all(dim=1).nonzero().flatten()
            diff = self._difference(_select_query(query, rows), [shots[int(j)] for j in subset])
            out[rows] = torch.sigmoid(diff)[:, 0]
        return out

    @torch.inference_mode()
    def _predict_batch(self, images: list[np.ndarray], cancel: CancelLike | None) -> list[Prediction]:
        boxes = []
        tensors = []
        for i, img in enumerate(images):
            check_rgb(img, f"query {i + 1}")
            box = Letterbox.fit(img.shape[0], img.shape[1], self.size, self.resize)
            boxes.append(box)
            tensors.append(torch.from_numpy(image_to_model(img, box)))
        x = self._to_device(tensors)
        with self._autocast():
            query = self._functions()[0](x, with_base=self.use_base_learner)
            check_cancel(cancel)
            prob = self._canvas_probability(query)
        prob_np = prob.float().cpu().numpy()
        embeddings = pooled_embeddings(query.layer4, boxes)
        results = []
        for box, canvas, emb in zip(boxes, prob_np, embeddings, strict=True):
            crop = canvas[: box.new_h, : box.new_w]
            score = confidence_score(crop, self.threshold)
            p = np.clip(model_to_image(canvas, box), 0.0, 1.0)
            warnings = self.summary.warnings if self.summary else ()
            results.append(Prediction(p, p > self.threshold, score, self.threshold, warnings, emb))
        return results

    @torch.inference_mode()
    def embed(self, images: Sequence[np.ndarray], batch_size: int = 4) -> np.ndarray:
        """Appearance embeddings of HxWx3 uint8 RGB images (:mod:`symnet_core.inference.embedding`).

        The same vector :attr:`Prediction.embedding` holds for a predicted image, from a
        backbone-only pass (no supports needed). Returns float32 ``[N,C]``, unit rows.
        """
        rows = []
        for start in range(0, len(images), max(1, batch_size)):
            chunk = images[start : start + max(1, batch_size)]
            boxes, tensors = [], []
            for i, img in enumerate(chunk):
                check_rgb(img, f"image {start + i + 1}")
                box = Letterbox.fit(img.shape[0], img.shape[1], self.size, self.resize)
                boxes.append(box)
                tensors.append(torch.from_numpy(image_to_model(img, box)))
            with self._autocast():
                feats = extract_features(self.model.backbone, self._to_device(tensors), with_hyper=False)
            rows.append(pooled_embeddings(feats.stages[4], boxes))
        return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)

    def predict(self, image: np.ndarray, *, cancel: CancelLike | None = None) -> Prediction:
        """Segment one HxWx3 uint8 RGB image with the current supports."""
        return self.predict_many([image], batch_size=1, cancel=cancel)[0]

    def iter_predict(
        self,
        images: Iterable[np.ndarray],
        batch_size: int = 1,
        progress: Progress | None = None,
        cancel: CancelLike | None = None,
    ) -> Iterator[Prediction]:
        """Yield one :class:`Prediction` per image, in order, computing ``batch_size`` at a time.

        ``progress(done, total)`` is called after each batch (total is ``None`` for iterators
        without a length); ``cancel`` (anything with ``is_set()``) is checked between stages and
        raises :class:`symnet_core.cancel.OperationCancelled`.
        """
        if not self._shots:
            raise RuntimeError("no supports: call set_supports() first")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        total = len(images) if isinstance(images, Sized) else None
        it = iter(images)
        done = 0
        while batch := list(islice(it, batch_size)):
            check_cancel(cancel)
            yield from self._predict_batch(batch, cancel)
            done += len(batch)
            if progress is not None:
                progress(done, total)

    def predict_many(
        self,
        images: Sequence[np.ndarray],
        batch_size: int = 4,
        progress: Progress | None = None,
        cancel: CancelLike | None = None,
    ) -> list[Prediction]:
        """List form of :meth:`iter_predict` (keeps every result in memory; stream large folders)."""
        return list(self.iter_predict(images, batch_size, progress, cancel))

