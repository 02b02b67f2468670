"""CPU speed of the per-episode forward vs the cached predictor (see :mod:`symnet_core.cli.bench` for the JSON keys)."""

from __future__ import annotations

import argparse
import contextlib
import statistics
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


def ratio(a: float, b: float) -> float:
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


def scene(size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
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
    return torch.stack([torch.from_numpy(image_to_model(scene(image_hw, 7 + i)[0], box)) for i in range(n)])


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
    sups = [scene(image_hw, 100 + i) for i in range(shots)]
    query_img, _ = scene(image_hw, 7)
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
    sups = [scene(image_hw, 100 + i) for i in range(shots)]
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
def build_model(args: argparse.Namespace, shots: int) -> SymNet:
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint)
    else:
        cfg = SymNetConfig(layers=args.layers, shots=shots, image_size=args.image_size)
        model = SymNet(cfg)
        model.load_state_dict(seeded_state_dict(model.state_dict(), seed=0))
    return model.eval()


def summarize(per_thread: dict[str, dict[str, object]], precisions: tuple[str, ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    first = next(iter(per_thread.values()), None)
    for t, entry in per_thread.items():
        rows = {}
        for k, r in entry["shots"].items():  # type: ignore[attr-defined]
            row = {key: r[key] for key in ("cached_query_ms", "floor_ms", "cached_vs_floor", "predictor_ms")}
            row["cached_speedup_vs_first_threads"] = ratio(first["shots"][k]["cached_query_ms"], r["cached_query_ms"])  # type: ignore[index]
            for p in precisions:
                if p != "fp32":
                    row[f"{p}_speedup_cached"] = r[p]["speedup_cached_query"]
                    row[f"{p}_speedup_predictor"] = r[p]["speedup_predictor"]
                    row[f"{p}_cached_vs_floor"] = r[p]["cached_vs_floor"]
            rows[f"{k}-shot"] = row
        out[t] = rows
    return out


