"""``symnet-bench --device cuda``: throughput, memory and agreement of the CUDA path.

Prints (and with ``--json`` writes) one JSON document:

* ``device`` — GPU name, compute capability, memory, torch / CUDA / cuDNN versions and the
  TF32 and cuDNN-benchmark flags in force (defaults unless the command changed them).
* ``model_only`` — per image size (``--image-sizes``), precision (``--precisions``) and batch size
  (``--batch-sizes``): milliseconds per forward (``encode_query`` + ``decode(upsample=False)``, as
  :class:`~symnet_core.inference.predictor.Predictor` runs them; inputs already on the GPU, supports
  encoded once; timed with CUDA events, median of ``repeats`` after ``warmup`` untimed runs),
  ``queries_per_s`` = B / that time, and ``peak_memory_mib``
  (``torch.cuda.max_memory_allocated`` during those runs, model weights and the query batch
  included) with ``baseline_memory_mib`` (allocated before them). Seed-generated weights
  (:mod:`symnet_core.model.seeded_weights`): speed does not depend on their values.
* ``channels_last`` — one size/precision/batch timed with the model and inputs in NCHW vs NHWC.
* ``predictor`` — ``Predictor.predict_many`` on uint8 images (letterbox on the CPU, pinned copy,
  model, probability back to the image): images/s per precision.
* ``propagation`` (``--propagation N``) — end-to-end :func:`~symnet_core.workflows.propagation.propagate_project`
  of a demo folder of N images (:func:`~symnet_core.training.synthetic.generator.make_demo_folder`, PNG) with the demo
  model: wall time and where it goes (decoding, predictor, network, saving, waiting for the loader).
* ``agreement`` (``--agreement``) — :func:`symnet_core.benchmarks.agreement.mask_agreement` of each reduced
  precision vs fp32 on the GPU, held-out classes of the demo model.

Nothing here asserts a speed; tests/integration/test_gpu.py runs the code paths on a tiny model.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from symnet_core.inference.predictor import Predictor
from symnet_core.inference.transforms import Letterbox, image_to_model, mask_to_model
from symnet_core.model.config import SymNetConfig
from symnet_core.model.seeded_weights import seeded_state_dict
from symnet_core.model.symnet import SupportEncoding, SymNet

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
MIB = 1024 * 1024


def device_info(device: torch.device) -> dict[str, object]:
    """What the figures were measured on."""
    if device.type != "cuda":
        import platform

        return {"name": platform.processor() or platform.machine(), "torch": torch.__version__}
    props = torch.cuda.get_device_properties(device)
    return {
        "name": torch.cuda.get_device_name(device),
        "capability": list(torch.cuda.get_device_capability(device)),
        "multiprocessors": props.multi_processor_count,
        "memory_gib": round(props.total_memory / 1024**3, 1),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
    }


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    """Autocast as :class:`Predictor` uses it (``fp32``: none)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


def cuda_times_ms(fn: Callable[[], object], repeats: int, warmup: int, device: torch.device) -> list[float]:
    """Milliseconds of ``fn`` per call, by CUDA events around each call (launches included;
    wall clock on the CPU, where this module only runs for its tests)."""
    for _ in range(warmup):
        fn()
    if device.type != "cuda":
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000.0)
        return times
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times


def _scenes(n: int, hw: tuple[int, int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from symnet_core.benchmarks.cpu import scene

    return [scene(hw, seed + i) for i in range(n)]


def seeded_model(image_size: int, layers: int = 50, shots: int = 1, **overrides: Any) -> SymNet:
    model = SymNet(SymNetConfig(layers=layers, shots=shots, image_size=image_size, **overrides))
    model.load_state_dict(seeded_state_dict(model.state_dict(), seed=0))
    return model.eval()


def model_only(
    model: SymNet,
    device: torch.device,
    precisions: tuple[str, ...],
    batch_sizes: tuple[int, ...],
    query_hw: tuple[int, int],
    *,
    repeats: int = 5,
    warmup: int = 2,
    channels_last: bool = True,
) -> dict[str, dict[str, dict[str, float]]]:
    """``{precision: {batch: figures}}`` of the cached path for one model (module docstring)."""
    s = model.config.image_size
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt)
    box = Letterbox.fit(*query_hw, s)
    scenes = _scenes(max(batch_sizes) + 1, query_hw, 7)
    queries = torch.stack([torch.from_numpy(image_to_model(im, box)) for im, _ in scenes[1:]])
    queries = queries.to(device).contiguous(memory_format=fmt)
    sx = torch.from_numpy(image_to_model(scenes[0][0], box))[None].to(device).contiguous(memory_format=fmt)
    sy = torch.from_numpy(mask_to_model(scenes[0][1], box))[None].to(device)
    text = torch.linspace(-1, 1, model.config.text_dim, device=device)[None]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for p in precisions:
        with torch.inference_mode(), autocast(device, p):
            shots = [model.encode_support(sx, sy, text)]
        out[p] = {}
        for b in batch_sizes:
            x = queries[:b]

            def run(x: torch.Tensor = x, p: str = p, shots: list[SupportEncoding] = shots) -> object:
                with torch.inference_mode(), autocast(device, p):
                    return model.decode(model.encode_query(x), shots, text, upsample=False).final

            cuda = device.type == "cuda"
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device) if cuda else 0
            times = cuda_times_ms(run, repeats, warmup, device)
            ms = statistics.median(times)
            out[p][str(b)] = {
                "ms_per_forward": round(ms, 3),
                "ms_per_forward_min": round(min(times), 3),
                "ms_per_query": round(ms / b, 3),
                "queries_per_s": round(1000.0 * b / ms, 1),
                "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / MIB, 1) if cuda else None,
                "baseline_memory_mib": round(base / MIB, 1),
                "repeats": repeats,
                "warmup": warmup,
            }
    model.to(memory_format=torch.contiguous_format)
    return out


def predictor_throughput(
    model: SymNet,
    device: torch.device,
    precision: str,
    batch_size: int,
    n: int,
    query_hw: tuple[int, int],
    compile: bool = False,
) -> dict[str, float]:
    """``Predictor.predict_many`` on ``n`` uint8 images (after one untimed batch): images/s."""
    scenes = _scenes(n + 1, query_hw, 300)
    pred = Predictor(model, device, precision=precision, compile=compile)
    pred.set_supports([scenes[0][0]], [scenes[0][1]], text=np.linspace(-1, 1, model.config.text_dim, dtype=np.float32))
    images = [im for im, _ in scenes[1:]]
    t0 = time.perf_counter()
    pred.predict_many(images[:batch_size], batch_size=batch_size)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred.predict_many(images, batch_size=batch_size)
    wall = time.perf_counter() - t0
    return {"images": n, "batch_size": batch_size, "wall_s": round(wall, 3), "images_per_s": round(n / wall, 1),
            "first_batch_s": round(first, 3), "compile": compile}  # fmt: skip


# ----------------------------------------------------------------------------------------------
# end-to-end propagation
@contextlib.contextmanager
def _patched(obj: object, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    original = getattr(obj, name)
    setattr(obj, name, wrap(original))
    try:
        yield
    finally:
        setattr(obj, name, original)


def propagation_e2e(
    checkpoint: str,
    n: int,
    device: torch.device,
    *,
    precision: str = "bf16",
    batch_size: int = 16,
    loader_workers: tuple[int, ...] = (0, 4),
    work_dir: str | None = None,
) -> dict[str, object]:
    """Propagate one demo support to ``n - 1`` demo images, once per ``loader_workers`` value."""
    import threading

    from symnet_core.inference.loading import load_predictor
    from symnet_core.project import Project
    from symnet_core.training.synthetic.generator import dataset_from_metadata, make_demo_folder
    from symnet_core.workflows import batch_loader, propagation

    loaded = load_predictor(checkpoint, device=str(device), precision=precision)
    model = loaded.predictor.model  # type: ignore[attr-defined]
    dataset = dataset_from_metadata(model.checkpoint_info.metadata["data"])
    result: dict[str, object] = {"checkpoint": checkpoint, "model": loaded.description, "images": n,
                                 "precision": precision, "batch_size": batch_size}  # fmt: skip
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        t0 = time.perf_counter()
        manifest = make_demo_folder(tmp, n_images=n, n_supports=1, dataset=dataset)
        result["folder_write_s"] = round(time.perf_counter() - t0, 1)
        first = str(manifest["supports"][0])  # type: ignore[index]
        from PIL import Image

        with Image.open(Path(tmp) / ".supports" / first) as im:
            support_mask = np.asarray(im).astype(np.uint8)
        with Project.create(tmp, classes=[str(manifest["class_name"])]) as project:
            project.set_mask(first, support_mask, status="support")
            keys = [k for k in manifest["images"] if k != first]  # type: ignore[union-attr]
            # decoding alone, one thread: what the loader has to keep up with
            t0 = time.perf_counter()
            for k in keys:
                project.read_image(k, max_side=1024)
            decode_only = time.perf_counter() - t0
            result["decode_only_one_thread"] = {"images_per_s": round(len(keys) / decode_only, 1),
                                                "ms_per_image": round(1000 * decode_only / len(keys), 3)}  # fmt: skip
            runs = {}
            for workers in loader_workers:
                runs[str(workers)] = _one_propagation(project, loaded, (propagation, batch_loader), keys, batch_size,
                                                      workers, threading)  # fmt: skip
            result["runs_by_loader_workers"] = runs
    return result


def _one_propagation(project: Any, loaded: Any, prop: Any, keys: list[str], batch_size: int, workers: int,
                     threading: Any) -> dict[str, object]:  # fmt: skip
    cuda = loaded.predictor.device.type == "cuda"
    timers = {"decode_thread_s": 0.0, "wait_for_loader_s": 0.0, "predictor_s": 0.0, "network_s": 0.0, "save_s": 0.0}
    lock = threading.Lock()

    def timed(bucket: str, sync: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            def inner(*a: Any, **k: Any) -> Any:
                if sync and cuda:
                    torch.cuda.synchronize()
                t = time.perf_counter()
                try:
                    out = fn(*a, **k)
                    if sync and cuda:
                        torch.cuda.synchronize()
                    return out
                finally:
                    with lock:
                        timers[bucket] += time.perf_counter() - t

            return inner

        return wrap

    def factory() -> object:
        p = loaded.new_predictor()
        p.predict_many = timed("predictor_s")(p.predict_many)
        model = p.model
        model.encode_query = timed("network_s", sync=True)(model.encode_query)
        model.decode = timed("network_s", sync=True)(model.decode)
        return p

    with contextlib.ExitStack() as stack:
        stack.enter_context(_patched(project, "read_image", timed("decode_thread_s")))
        stack.enter_context(_patched(project, "store_prediction", timed("save_s")))
        stack.enter_context(_patched(prop[1].BatchLoader, "next_batch", timed("wait_for_loader_s")))
        t0 = time.perf_counter()
        report = prop[0].propagate_project(project, factory, scope="all", batch_size=batch_size, loader_workers=workers,
                                        resume=False)  # fmt: skip
        wall = time.perf_counter() - t0
    model = loaded.predictor.model
    for name in ("encode_query", "decode"):
        model.__dict__.pop(name, None)
    n = len(report.predicted)
    return {
        "loader_workers": workers,
        "predicted": n,
        "failed": len(report.failed),
        "wall_s": round(wall, 2),
        "images_per_s": round(n / wall, 1),
        **{k: round(v, 3) for k, v in timers.items()},
        "share_of_wall": {k.removesuffix("_s"): round(v / wall, 3) for k, v in timers.items()},
        "note": "decode_thread_s is summed over the loader's threads (with workers it overlaps the model); "
                "wait_for_loader_s is the main thread blocked on decoding; network_s is inside predictor_s",
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------
def agreement_on_device(checkpoint: str, device: torch.device, precisions: tuple[str, ...], queries: int,
                        seed: int) -> dict[str, object]:  # fmt: skip
    """:func:`symnet_core.benchmarks.agreement.mask_agreement` of each reduced precision vs fp32 on ``device``."""
    from symnet_core.benchmarks.agreement import dataset_from_metadata, mask_agreement
    from symnet_core.inference.loading import load_predictor

    loaded = load_predictor(checkpoint, device=str(device))
    base = loaded.predictor

    def make(p: str) -> Predictor:
        return Predictor(base.model, device, text_embedder=base.text_embedder, threshold=base.threshold,  # type: ignore[attr-defined]
                         use_base_learner=base.use_base_learner, precision=p)  # type: ignore[attr-defined]  # fmt: skip

    dataset = dataset_from_metadata(base.model.checkpoint_info.metadata)  # type: ignore[attr-defined]
    out: dict[str, object] = {"checkpoint": checkpoint, "model": loaded.description, "seed": seed}
    for p in precisions:
        if p != "fp32":
            out[p] = mask_agreement(make, dataset, queries, precisions=("fp32", p), seed=seed)
    return out


def run(
    device_spec: str,
    *,
    image_sizes: tuple[int, ...],
    batch_sizes: tuple[int, ...],
    precisions: tuple[str, ...],
    layers: int,
    query_hw: tuple[int, int],
    repeats: int,
    warmup: int,
    model_overrides: dict[str, Any] | None = None,
    demo_checkpoint: str | None = None,
    propagation: int = 0,
    propagation_batch: int = 16,
    agreement_queries: int = 0,
    agreement_seed: int = 2024,
    say: Callable[[str], None] = lambda s: None,
) -> dict[str, object]:
    """Every section of the module docstring; returns the JSON document."""
    from symnet_core.device import resolve_device

    device = resolve_device(device_spec)  # the CLI sends CUDA here; the CPU only for tests
    result: dict[str, object] = {"device": device_info(device), "layers": layers, "query_size": list(query_hw),
                                 "model_only": {}, "predictor": {}}  # fmt: skip
    cl_case = (min(image_sizes, key=lambda s: abs(s - 473)), "bf16" if "bf16" in precisions else precisions[0],
               16 if 16 in batch_sizes else max(batch_sizes))  # fmt: skip
    for size in image_sizes:
        model = seeded_model(size, layers, **(model_overrides or {}))
        t0 = time.perf_counter()
        result["model_only"][str(size)] = model_only(  # type: ignore[index]
            model, device, precisions, batch_sizes, query_hw, repeats=repeats, warmup=warmup
        )
        say(f"model-only {size}: {time.perf_counter() - t0:.1f} s")
        if size == cl_case[0]:
            nchw = model_only(model, device, (cl_case[1],), (cl_case[2],), query_hw, repeats=repeats, warmup=warmup,
                              channels_last=False)[cl_case[1]][str(cl_case[2])]  # fmt: skip
            nhwc = result["model_only"][str(size)][cl_case[1]][str(cl_case[2])]  # type: ignore[index]
            result["channels_last"] = {
                "image_size": size, "precision": cl_case[1], "batch_size": cl_case[2],
                "nchw_ms_per_forward": nchw["ms_per_forward"], "nhwc_ms_per_forward": nhwc["ms_per_forward"],
                "speedup_nhwc": round(nchw["ms_per_forward"] / nhwc["ms_per_forward"], 3),
            }  # fmt: skip
        b = 16 if 16 in batch_sizes else max(batch_sizes)
        result["predictor"][str(size)] = {  # type: ignore[index]
            p: predictor_throughput(model, device, p, b, 4 * b, query_hw) for p in precisions
        }
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if demo_checkpoint and propagation > 0:
        t0 = time.perf_counter()
        result["propagation"] = propagation_e2e(demo_checkpoint, propagation, device, batch_size=propagation_batch)
        say(f"propagation: {time.perf_counter() - t0:.1f} s")
    if demo_checkpoint and agreement_queries > 0:
        t0 = time.perf_counter()
        result["agreement"] = agreement_on_device(demo_checkpoint, device, precisions, agreement_queries,
                                                  agreement_seed)  # fmt: skip
        say(f"agreement: {time.perf_counter() - t0:.1f} s")
    if device.type == "cuda":
        result["peak_memory_mib_process"] = round(torch.cuda.max_memory_allocated(device) / MIB, 1)
    return result
