"""``symnet-bench``: per-query speed of the naive per-episode forward vs the cached predictor.

Prints one JSON document. Figures are medians over ``--repeats`` rounds in one process (after
``--warmup`` untimed runs of each per-query path). Every round times every path once, so all
paths see about the same machine load, and each ratio is the median of its per-round ratios;
quote ratios from one run (these machines are noisy). Weights are seed-generated
(:mod:`symnet_core.model.seeded_weights`) unless ``--checkpoint`` is given: speed does not depend on
their values.

Measured for every ``--threads`` value (``threads.<t>``) and shot count (``shots.<k>``):

* ``episode_official_prior_ms`` — :meth:`SymNet.forward` with the literal quadratic SPM, i.e. the
  authors' per-episode computation (support and query through everything, every time);
* ``episode_fast_prior_ms`` — the same forward with the matrix–vector SPM;
* ``cached_query_ms`` — the :class:`Predictor` path: supports encoded once, then per query
  ``encode_query`` + ``decode(upsample=False)`` (model only, input already a tensor; the
  predictor upsamples one difference map itself, which ``predictor_ms`` includes);
* ``decode_ms`` — ``decode`` alone on an already encoded query;
* ``predictor_ms`` — ``Predictor.predict`` on a uint8 image (letterbox, model, map back, score);
* ``backbone_ms`` and ``floor_ms`` (query backbone + base learner: the least any method must do);
* ``max_abs_diff_final`` — cached vs per-episode ``final`` output (must be ≤ 1e-4);
* ``batch.<precision>.<B>`` — per-query ms of the cached path with B distinct queries per forward
  (``--batch-sizes``, timed in their own interleaved rounds), ``batch_speedup_per_query`` (B = 1
  time over per-query time at B) and ``max_abs_diff_batched.<precision>``: max |batched −
  one-by-one| of ``final`` over the first and last query of each batch;
* ``<precision>`` (e.g. ``bf16``, ``--precisions``) — the cached path, decode, floor and predictor
  under autocast, with the speed-ups over fp32.

``--profile`` adds ``profile.<k>``: one ``torch.profiler`` run of the decode (first thread count)
with the time per model stage and the top operators. ``--agreement`` adds ``agreement``: masks of
the fast mode vs fp32 on held-out classes of a checkpoint trained on the synthetic dataset
(default: the bundled demo model), with both precisions' mIoU vs the ground truth.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from symnet_core.inference.predictor import Predictor
from symnet_core.inference.transforms import Letterbox, image_to_model, mask_to_model
from symnet_core.model.backbone import extract_features
from symnet_core.model.checkpoints import load_checkpoint
from symnet_core.model.config import SymNetConfig
from symnet_core.model.seeded_weights import seeded_state_dict
from symnet_core.model.symnet import SupportEncoding, SymNet

#: /proc/cpuinfo flags that decide how fast bf16 runs on the CPU.
BF16_FLAGS = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def _median_ms(fn: Callable[[], object], repeats: int, warmup: int = 0) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return round(statistics.median(times), 1)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def autocast(precision: str) -> contextlib.AbstractContextManager[object]:
    """CPU autocast for ``precision`` (``fp32``: no-op), as :class:`Predictor` uses it."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    return torch.autocast(device_type="cpu", dtype=dtype)


def cpu_features() -> dict[str, object]:
    """What decides the CPU's bf16 speed: torch's kernel level, oneDNN's bf16 support, CPU flags."""
    flags: set[str] = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    try:
        onednn_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        onednn_bf16 = None
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_bf16": onednn_bf16,
        "flags": {f: f in flags for f in BF16_FLAGS} if flags else None,
        # native = bf16 dot-product instructions (AVX512-BF16 or AMX); otherwise oneDNN emulates
        "native_bf16": bool(flags & {"avx512_bf16", "amx_bf16"}) if flags else None,
    }


def _scene(size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = size
    img = rng.integers(0, 100, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    mask = ((yy - cy) / (0.25 * h)) ** 2 + ((xx - cx) / (0.2 * w)) ** 2 < 1
    img[mask] = rng.integers(140, 255, (int(mask.sum()), 3), dtype=np.uint8)
    return img, mask


def _queries(model: SymNet, image_hw: tuple[int, int], n: int) -> torch.Tensor:
    """``n`` distinct query scenes as model input [n,3,S,S]; the first is the one timed alone."""
    box = Letterbox.fit(*image_hw, model.config.image_size)
    return torch.stack([torch.from_numpy(image_to_model(_scene(image_hw, 7 + i)[0], box)) for i in range(n)])


def cached_outputs(
    model: SymNet, encoded: list[SupportEncoding], text: torch.Tensor, queries: torch.Tensor, batch_size: int,
    precision: str = "fp32",
) -> torch.Tensor:  # fmt: skip
    """``final`` [N,2,f,f] (float32, feature grid) of the cached path, ``batch_size`` queries per forward."""
    outs = []
    with torch.inference_mode(), autocast(precision):
        for chunk in queries.split(batch_size):
            outs.append(model.decode(model.encode_query(chunk), encoded, text, upsample=False).final.float())
    return torch.cat(outs)


def _interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, warmup: dict[str, int] | None = None
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Time every function once per round, for ``repeats`` rounds: medians (ms) and every round's times.

    Interleaving makes the ratios robust to a machine whose load changes over minutes: each round
    measures every path under about the same load, and ratios are taken within rounds (:func:`_paired`).
    """
    for name, fn in fns.items():
        for _ in range((warmup or {}).get(name, 0)):
            fn()
    rounds = []
    for _ in range(repeats):
        times = {}
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name] = (time.perf_counter() - t0) * 1000.0
        rounds.append(times)
    return {name: round(statistics.median(r[name] for r in rounds), 1) for name in fns}, rounds


def _paired(rounds: list[dict[str, float]], a: str, b: str, scale: float = 1.0) -> float:
    """Median over rounds of ``scale · time[a] / time[b]``."""
    return round(statistics.median(scale * r[a] / r[b] for r in rounds), 3)


def bench_shots(
    model: SymNet,
    shots: int,
    repeats: int,
    image_hw: tuple[int, int],
    *,
    batch_sizes: tuple[int, ...] = (1,),
    precisions: tuple[str, ...] = ("fp32",),
    warmup: int = 1,
) -> dict[str, object]:
    """Every figure of one (model, shot count) at the current thread count (module docstring).

    All single-query paths are timed in interleaved rounds (then all batch sizes, also interleaved);
    ratios are medians of per-round ratios.
    """
    s = model.config.image_size
    sups = [_scene(image_hw, 100 + i) for i in range(shots)]
    query_img, _ = _scene(image_hw, 7)
    box = Letterbox.fit(*image_hw, s)
    sx = torch.stack([torch.from_numpy(image_to_model(im, box)) for im, _ in sups])[None]
    sy = torch.stack([torch.from_numpy(mask_to_model(mk, box)) for _, mk in sups])[None]
    queries = _queries(model, image_hw, max(batch_sizes))
    qx = queries[:1]
    text = torch.linspace(-1, 1, model.config.text_dim)[None]
    out: dict[str, object] = {}
    with torch.inference_mode():
        episode = model(qx, sx, sy, text)
        encoded = [model.encode_support(sx[:, i], sy[:, i], text) for i in range(shots)]
        full = model.decode(model.encode_query(qx), encoded, text).final  # upsampled, as the episode's
        out["max_abs_diff_final"] = float((full - episode.final).abs().max())
        del full, episode
    single = {p: cached_outputs(model, encoded, text, qx, 1, p) for p in precisions}

    def mode(precision: str, fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode(), autocast(precision):
                return fn()

        return run

    def cached(x: torch.Tensor) -> Callable[[], torch.Tensor]:
        return lambda: model.decode(model.encode_query(x), encoded, text, upsample=False).final

    fns: dict[str, Callable[[], object]] = {
        "episode_official_prior": mode("fp32", lambda: model(qx, sx, sy, text, prior="official")),
        "episode_fast_prior": mode("fp32", lambda: model(qx, sx, sy, text)),
    }
    for p in precisions:
        with torch.inference_mode(), autocast(p):
            q = model.encode_query(qx)
        predictor = Predictor(model, device="cpu", precision=p)
        predictor.set_supports([im for im, _ in sups], [mk for _, mk in sups], text=text[0].numpy())
        fns[f"{p}/cached_query"] = mode(p, cached(qx))
        fns[f"{p}/decode"] = mode(p, lambda q=q: model.decode(q, encoded, text, upsample=False))
        if p == "fp32":
            fns["fp32/backbone"] = mode(p, lambda: extract_features(model.backbone, qx, with_hyper=False))
        fns[f"{p}/floor"] = mode(
            p, lambda: model.learner_base(extract_features(model.backbone, qx, with_hyper=False).stages[4])
        )
        fns[f"{p}/predictor"] = lambda pr=predictor: pr.predict(query_img)
    med, rounds = _interleaved(fns, repeats, {k: 0 if k.startswith("episode") else warmup for k in fns})
    out["episode_official_prior_ms"] = med["episode_official_prior"]
    out["episode_fast_prior_ms"] = med["episode_fast_prior"]
    for p in precisions:
        res: dict[str, object] = {f"{k.split('/', 1)[1]}_ms": v for k, v in med.items() if k.startswith(f"{p}/")}
        res["cached_vs_floor"] = _paired(rounds, f"{p}/cached_query", f"{p}/floor")
        if p == "fp32":
            out.update(res)
            out["cached_vs_episode_official"] = _paired(rounds, "fp32/cached_query", "episode_official_prior")
            out["cached_vs_episode_fast"] = _paired(rounds, "fp32/cached_query", "episode_fast_prior")
        else:
            for key in ("cached_query", "decode", "floor", "predictor"):
                res[f"speedup_{key}"] = _paired(rounds, f"fp32/{key}", f"{p}/{key}")
            res["max_abs_diff_final_vs_fp32"] = float((single[p] - single["fp32"]).abs().max())
            out[p] = res
    out["ratios"] = "medians of per-round ratios; every path timed once per round, rounds interleaved"
    del fns, rounds

    last: dict[str, torch.Tensor] = {}

    def batch_run(precision: str, b: int) -> Callable[[], None]:
        def run() -> None:
            with torch.inference_mode(), autocast(precision):
                last[f"{precision}/{b}"] = cached(queries[:b])()

        return run

    bfns = {f"{p}/{b}": batch_run(p, b) for b in batch_sizes for p in precisions}
    bmed, brounds = _interleaved(bfns, repeats, {f"{p}/1": warmup for p in precisions} if 1 in batch_sizes else None)
    batch: dict[str, dict[str, float]] = {}
    speedup: dict[str, dict[str, float]] = {}
    batch_diff: dict[str, float] = {}
    for p in precisions:
        batch[p] = {str(b): round(bmed[f"{p}/{b}"] / b, 1) for b in batch_sizes}
        if 1 in batch_sizes:
            speedup[p] = {str(b): _paired(brounds, f"{p}/1", f"{p}/{b}", scale=b) for b in batch_sizes if b > 1}
        worst = 0.0
        for b in batch_sizes:
            got = last.pop(f"{p}/{b}").float()
            one_by_one = single[p] if b == 1 else cached_outputs(model, encoded, text, queries[b - 1 : b], 1, p)
            worst = max(worst, float((got[:1] - single[p]).abs().max()), float((got[-1:] - one_by_one).abs().max()))
        batch_diff[p] = worst
    out["batch"] = batch
    out["batch_speedup_per_query"] = speedup
    out["max_abs_diff_batched"] = batch_diff
    return out


# ----------------------------------------------------------------------------------------------
# profile of the decode
@contextlib.contextmanager
def _stage_labels(model: SymNet) -> Iterator[None]:
    """Label the decode's stages for ``torch.profiler`` (patches, restored on exit; profiling only)."""
    from torch.profiler import record_function

    from symnet_core.model import symnet as symnet_module

    def labelled(fn: Callable[..., object], label: str) -> Callable[..., object]:
        def wrapper(*a: object, **k: object) -> object:
            with record_function(label):
                return fn(*a, **k)

        return wrapper

    functions = {
        "mean_hyper_correlation": "stage: hyper-correlation (13 query·support-column products)",
        "query_prior": "stage: SPM query_prior (dot products, pooling of 1-channel maps, min-max)",
        "pyramid_priors": "stage: prior pyramid",
        "query_prototypes": "stage: query prototypes",
    }
    modules = {
        "hyper_final": "stage: TDC (hyper_final)",
        "CrossAttention": "stage: APA (CrossAttention)",
        "init_merge": "stage: pyramid merge (init/alpha/beta)",
        "alpha_conv": "stage: pyramid merge (init/alpha/beta)",
        "beta_conv": "stage: pyramid merge (init/alpha/beta)",
        "inner_cls": "stage: inner_cls (aux logits, unused at inference)",
        "res1": "stage: res1/res2/cls",
        "res2": "stage: res1/res2/cls",
        "cls": "stage: res1/res2/cls",
    }
    saved = {name: getattr(symnet_module, name) for name in functions}
    patched: list[torch.nn.Module] = []
    try:
        for name, label in functions.items():
            setattr(symnet_module, name, labelled(saved[name], label))
        for name, label in modules.items():
            mod = getattr(model, name)
            for m in mod if isinstance(mod, torch.nn.ModuleList) else [mod]:
                m.forward = labelled(m.forward, label)  # type: ignore[method-assign]
                patched.append(m)
        model._ensemble = labelled(model._ensemble, "stage: ensemble")  # type: ignore[method-assign]
        model.shot_weights = labelled(model.shot_weights, "stage: Gram shot weights")  # type: ignore[method-assign]
        yield
    finally:
        for name, fn in saved.items():
            setattr(symnet_module, name, fn)
        for m in patched:
            del m.forward
        for name in ("_ensemble", "shot_weights"):
            model.__dict__.pop(name, None)


def profile_decode(
    model: SymNet, shots: int, image_hw: tuple[int, int], runs: int = 3, top: int = 15
) -> dict[str, object]:
    """``torch.profiler`` of ``decode(upsample=False)`` of one query: ms per decode by stage and top ops."""
    from torch.profiler import ProfilerActivity, profile

    box = Letterbox.fit(*image_hw, model.config.image_size)
    sups = [_scene(image_hw, 100 + i) for i in range(shots)]
    text = torch.linspace(-1, 1, model.config.text_dim)[None]
    qx = _queries(model, image_hw, 1)
    with torch.inference_mode():
        encoded = [
            model.encode_support(torch.from_numpy(image_to_model(im, box))[None],
                                 torch.from_numpy(mask_to_model(mk, box))[None], text)
            for im, mk in sups
        ]  # fmt: skip
        q = model.encode_query(qx)
        model.decode(q, encoded, text, upsample=False)  # warm-up
        unprofiled = _median_ms(lambda: model.decode(q, encoded, text, upsample=False), runs)
        with _stage_labels(model):
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True):  # the profiler's own warm-up
                model.decode(q, encoded, text, upsample=False)
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                for _ in range(runs):
                    model.decode(q, encoded, text, upsample=False)
    events = prof.key_averages()
    total_ms = sum(e.self_cpu_time_total for e in events) / 1000.0 / runs
    stages = {
        e.key[len("stage: "):]: round(e.cpu_time_total / 1000.0 / runs, 1)
        for e in events if e.key.startswith("stage: ")
    }  # fmt: skip
    stages["rest"] = round(total_ms - sum(stages.values()), 1)
    ops = sorted(
        (e for e in prof.key_averages(group_by_input_shape=True) if not e.key.startswith("stage: ")),
        key=lambda e: e.self_cpu_time_total, reverse=True,
    )[:top]  # fmt: skip
    top_ops = [
        {"op": e.key, "input_shapes": str(e.input_shapes), "calls": e.count // runs,
         "self_ms": round(e.self_cpu_time_total / 1000.0 / runs, 1)}
        for e in ops
    ]  # fmt: skip
    return {
        "decode_ms_unprofiled": unprofiled,
        "decode_ms_profiled": round(total_ms, 1),
        "support_columns": int(encoded[0].columns[0][0].shape[1]),
        "stages_ms": dict(sorted(stages.items(), key=lambda kv: -kv[1])),
        "top_ops": top_ops,
    }


# ----------------------------------------------------------------------------------------------
# mask agreement of the fast mode with fp32
def dataset_from_metadata(metadata: dict[str, object]) -> object:
    """The :class:`SyntheticFewShot` a checkpoint was trained on, from its ``data`` metadata."""
    from symnet_core.training.synthetic.generator import SyntheticFewShot

    data = dict(metadata.get("data") or {})  # type: ignore[call-overload]
    if data.get("kind") != "synthetic":
        raise ValueError("the mask agreement needs a checkpoint trained on the synthetic dataset")
    return SyntheticFewShot(
        int(data["seed"]), int(data["n_classes"]), int(data["held_out"]), size_range=tuple(data["size_range"]),
        min_main_fraction=float(data["min_main_fraction"]), object_scale=float(data["object_scale"]),
        max_distractors=int(data["max_distractors"]), clutter=float(data["clutter"]),
        min_train_difference=int(data.get("min_train_difference", 2)),
    )  # fmt: skip


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
        "speedup_predict": _ratio(med[0], med[1]),
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


# ----------------------------------------------------------------------------------------------
def _build_model(args: argparse.Namespace, shots: int) -> SymNet:
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint)
    else:
        cfg = SymNetConfig(layers=args.layers, shots=shots, image_size=args.image_size)
        model = SymNet(cfg)
        model.load_state_dict(seeded_state_dict(model.state_dict(), seed=0))
    return model.eval()


def _summary(per_thread: dict[str, dict[str, object]], precisions: tuple[str, ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    first = next(iter(per_thread.values()), None)
    for t, entry in per_thread.items():
        rows = {}
        for k, r in entry["shots"].items():  # type: ignore[attr-defined]
            row = {key: r[key] for key in ("cached_query_ms", "floor_ms", "cached_vs_floor", "predictor_ms")}
            row["cached_speedup_vs_first_threads"] = _ratio(first["shots"][k]["cached_query_ms"], r["cached_query_ms"])  # type: ignore[index]
            for p in precisions:
                if p != "fp32":
                    row[f"{p}_speedup_cached"] = r[p]["speedup_cached_query"]
                    row[f"{p}_speedup_predictor"] = r[p]["speedup_predictor"]
                    row[f"{p}_cached_vs_floor"] = r[p]["cached_vs_floor"]
            rows[f"{k}-shot"] = row
        out[t] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="symnet-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="torch intra-op thread counts, measured one after the other (default 1)")  # fmt: skip
    parser.add_argument("--shots", type=int, nargs="*", default=[1, 5], help="shot counts (none: skip the speed part)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before each per-query measurement")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1], help="queries per forward, e.g. 1 4 16")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=("fp32", "bf16", "fp16"),
                        help="fp32 is always measured; bf16 = the fast mode (autocast); fp16: CUDA only")  # fmt: skip
    parser.add_argument("--image-size", type=int, default=473, help="model input S (473 PASCAL, 641 COCO)")
    parser.add_argument("--layers", type=int, default=50, choices=(50, 101))
    parser.add_argument("--checkpoint", help="time this checkpoint instead of seed-generated weights")
    parser.add_argument("--query-size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    parser.add_argument("--profile", action="store_true", help="profile the decode (first thread count)")
    parser.add_argument("--agreement", action="store_true", help="mask agreement of the fast mode with fp32")
    parser.add_argument("--agreement-checkpoint", help="synthetic-data checkpoint (default: the bundled demo model)")
    parser.add_argument("--agreement-queries", type=int, default=50, help="query images per held-out class")
    parser.add_argument("--agreement-seed", type=int, default=2024)
    parser.add_argument("--agreement-threads", type=int, help="threads for the agreement (default: the first)")
    gpu = parser.add_argument_group("GPU (--device cuda; symnet_core/cli/bench_gpu.py)")
    gpu.add_argument("--device", default="cpu", help="cpu (this module's benchmark) or cuda[:N] (bench_gpu)")
    gpu.add_argument("--image-sizes", type=int, nargs="+", default=[473, 641], help="model input sizes")
    gpu.add_argument("--propagation", type=int, default=0, metavar="N",
                     help="end-to-end propagation of N demo images (0: skip)")  # fmt: skip
    gpu.add_argument("--propagation-batch", type=int, default=16)
    gpu.add_argument("--backbone-width", type=int, help="narrower model (tests); default: the full ResNet")
    parser.add_argument("--json", help="also write the JSON document to this file")
    args = parser.parse_args(argv)
    if args.device != "cpu":
        return _main_gpu(args)
    if "fp16" in args.precisions:
        parser.error("fp16 autocast needs --device cuda")
    precisions = tuple(dict.fromkeys(["fp32", *args.precisions]))
    batch_sizes = tuple(sorted(set(args.batch_sizes)))
    if min(batch_sizes) < 1 or min(args.threads) < 1:
        parser.error("batch sizes and thread counts must be ≥ 1")
    torch.set_flush_denormal(True)
    results: dict[str, object] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            **cpu_features(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        },
        "image_size": args.image_size,
        "layers": args.layers,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "query_size": list(args.query_size),
        "batch_sizes": list(batch_sizes),
        "precisions": list(precisions),
        "threads": {},
    }
    models: dict[int, SymNet] = {}
    per_thread: dict[str, dict[str, object]] = results["threads"]  # type: ignore[assignment]
    for t in args.threads if args.shots else []:
        torch.set_num_threads(t)
        entry: dict[str, object] = {"threads": torch.get_num_threads(), "shots": {}}
        per_thread[str(t)] = entry
        for k in args.shots:
            model = models.setdefault(k, _build_model(args, k))
            r = bench_shots(model, k, args.repeats, tuple(args.query_size), batch_sizes=batch_sizes,
                            precisions=precisions, warmup=args.warmup)  # fmt: skip
            entry["shots"][str(k)] = r  # type: ignore[index]
            print(json.dumps({"threads": t, f"{k}-shot": r}), file=sys.stderr, flush=True)  # noqa: T201
    if per_thread:
        results["summary"] = _summary(per_thread, precisions)
    if args.profile and args.shots:
        torch.set_num_threads(args.threads[0])
        results["profile"] = {"threads": args.threads[0]}
        for k in args.shots:
            model = models.setdefault(k, _build_model(args, k))
            results["profile"][str(k)] = profile_decode(model, k, tuple(args.query_size))  # type: ignore[index]
    models.clear()
    if args.agreement:
        from symnet_core.inference.loading import default_checkpoint

        ckpt = args.agreement_checkpoint or default_checkpoint()
        if not ckpt:
            parser.error("--agreement needs --agreement-checkpoint (no bundled demo model)")
        torch.set_num_threads(args.agreement_threads or args.threads[0])
        fast = next((p for p in precisions if p != "fp32"), "bf16")
        results["agreement"] = agreement_from_checkpoint(ckpt, args.agreement_queries, fast, args.agreement_seed)
        results["agreement"]["threads"] = torch.get_num_threads()  # type: ignore[index]
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]  # type: ignore[index]
    print(json.dumps(results, indent=2))  # noqa: T201
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


def _main_gpu(args: argparse.Namespace) -> int:
    from symnet_core.cli import bench_gpu
    from symnet_core.runtime import default_checkpoint

    demo = args.agreement_checkpoint or (default_checkpoint() if args.agreement or args.propagation else None)
    results = bench_gpu.run(
        args.device, image_sizes=tuple(args.image_sizes), batch_sizes=tuple(sorted(set(args.batch_sizes))),
        precisions=tuple(dict.fromkeys(["fp32", *args.precisions])), layers=args.layers,
        query_hw=tuple(args.query_size), repeats=args.repeats, warmup=args.warmup,
        model_overrides={"backbone_width": args.backbone_width} if args.backbone_width else None,
        demo_checkpoint=demo, propagation=args.propagation, propagation_batch=args.propagation_batch,
        agreement_queries=args.agreement_queries if args.agreement else 0, agreement_seed=args.agreement_seed,
        say=lambda s: print(s, file=sys.stderr, flush=True),  # noqa: T201
    )  # fmt: skip
    results["command"] = "symnet-bench " + " ".join(sys.argv[1:])
    print(json.dumps(results, indent=2))  # noqa: T201
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
