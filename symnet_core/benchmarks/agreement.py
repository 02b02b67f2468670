"""Mask agreement of a fast precision (bf16/fp16) with fp32 on held-out classes of a synthetic-data checkpoint."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from symnet_core.benchmarks.cpu import ratio
from symnet_core.inference.predictor import Predictor
from symnet_core.training.synthetic.generator import dataset_from_metadata as _dataset_from_data


def dataset_from_metadata(metadata: dict[str, object]) -> object:
    """The :class:`SyntheticFewShot` a checkpoint was trained on, from its whole ``metadata``."""
    data = dict(metadata.get("data") or {})  # type: ignore[call-overload]
    if data.get("kind") != "synthetic":
        raise ValueError("the mask agreement needs a checkpoint trained on the synthetic dataset")
    return _dataset_from_data(data)


def _iou(inter: int, union: int) -> float:
    return inter / union if union else 1.0  # two empty masks agree


def mask_agreement(
    make_predictor: Callable[[str], Predictor],
    dataset: object,
    queries: int,
    *,
    precisions: tuple[str, str] = ("fp32", "bf16"),
    classes: tuple[int, ...] | None = None,
    seed: int = 2024,
) -> dict[str, object]:
    """Masks of the ``fast`` precision (``precisions[1]``) vs the ``reference`` one, and both vs the truth.

    Per novel class: 1 support and ``queries`` query scenes from the "test" stream
    (``dataset.class_scene(c, index, "test")``, indices drawn with ``seed``); every query is
    predicted one by one by two predictors sharing the model. IoUs are pooled (intersections and
    unions summed over the queries; two empty masks count as agreeing); mIoU = mean over classes.
    """
    ref, fast = make_predictor(precisions[0]), make_predictor(precisions[1])
    classes = tuple(dataset.novel_classes) if classes is None else classes  # type: ignore[attr-defined]
    per_class: dict[str, dict[str, object]] = {}
    total = np.zeros(2, np.int64)
    changed = pixels = 0
    max_prob_diff = 0.0
    times: tuple[list[float], list[float]] = ([], [])
    for c in classes:
        rng = np.random.default_rng([seed, c])
        idx = rng.choice(1 << 30, size=1 + queries, replace=False)
        scenes = [dataset.class_scene(c, int(i), "test") for i in idx]  # type: ignore[attr-defined]
        sup_img, sup_lab = scenes[0]
        name = dataset.class_names[c]  # type: ignore[attr-defined]
        for p in (ref, fast):
            p.set_supports([sup_img], [sup_lab == c], name)
        sums = np.zeros(6, np.int64)  # agreement I, U; reference vs truth I, U; fast vs truth I, U
        for img, lab in scenes[1:]:
            truth = lab == c
            preds = []
            for p, spent in zip((ref, fast), times, strict=True):
                t0 = time.perf_counter()
                preds.append(p.predict(img))
                spent.append((time.perf_counter() - t0) * 1000.0)
            a, b = preds
            sums += (int((a.mask & b.mask).sum()), int((a.mask | b.mask).sum()),
                     int((a.mask & truth).sum()), int((a.mask | truth).sum()),
                     int((b.mask & truth).sum()), int((b.mask | truth).sum()))  # fmt: skip
            changed += int((a.mask != b.mask).sum())
            pixels += a.mask.size
            max_prob_diff = max(max_prob_diff, float(np.abs(a.probability - b.probability).max()))
        total += sums[:2]
        per_class[str(c)] = {"name": name, "agreement_iou": _iou(*sums[:2]), "iou_reference": _iou(*sums[2:4]),
                             "iou_fast": _iou(*sums[4:6])}  # fmt: skip
    agreements = [float(v["agreement_iou"]) for v in per_class.values()]  # type: ignore[arg-type]
    med = [round(statistics.median(t), 2) if t else float("nan") for t in times]
    return {
        "precisions": {"reference": precisions[0], "fast": precisions[1]},
        "classes": len(per_class),
        "queries_per_class": queries,
        "supports_per_class": 1,
        "agreement_iou_pooled": _iou(*total),
        "agreement_iou_mean_over_classes": float(np.mean(agreements)) if agreements else 1.0,
        "agreement_iou_min_class": min(agreements) if agreements else 1.0,
        "changed_pixel_fraction": changed / pixels if pixels else 0.0,
        "max_abs_probability_diff": max_prob_diff,
        "miou_reference": float(np.mean([v["iou_reference"] for v in per_class.values()])) if per_class else 1.0,
        "miou_fast": float(np.mean([v["iou_fast"] for v in per_class.values()])) if per_class else 1.0,
        "predict_ms_median": {"reference": med[0], "fast": med[1]},
        "speedup_predict": ratio(med[0], med[1]),
        "per_class": per_class,
    }


def agreement_from_checkpoint(checkpoint: str, queries: int, precision: str, seed: int) -> dict[str, object]:
    """:func:`mask_agreement` of ``precision`` vs fp32 for a checkpoint trained on the synthetic dataset."""
    from symnet_core.inference.loading import load_predictor

    loaded = load_predictor(checkpoint, device="cpu")
    base = loaded.predictor

    def make(p: str) -> Predictor:
        return Predictor(base.model, "cpu", text_embedder=base.text_embedder, threshold=base.threshold,  # type: ignore[attr-defined]
                         use_base_learner=base.use_base_learner, precision=p)  # type: ignore[attr-defined]  # fmt: skip

    dataset = dataset_from_metadata(base.model.checkpoint_info.metadata)  # type: ignore[attr-defined]
    result = mask_agreement(make, dataset, queries, precisions=("fp32", precision), seed=seed)
    return {"checkpoint": str(checkpoint), "model": loaded.description, "seed": seed, **result}

