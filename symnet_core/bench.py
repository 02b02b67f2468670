"""``symnet-bench``: per-query speed of the naive per-episode forward vs the cached predictor.

Prints one JSON document. Figures are medians over ``--repeats`` runs in one process; quote
ratios from one run (these machines are noisy). Weights are seed-generated
(:mod:`symnet_core.random_weights`) unless ``--checkpoint`` is given: speed does not depend on
their values.

Measured, per shot count:

* ``episode_official_prior_ms`` — :meth:`SymNet.forward` with the literal quadratic SPM, i.e. the
  authors' per-episode computation (support and query through everything, every time);
* ``episode_fast_prior_ms`` — the same forward with the matrix–vector SPM;
* ``cached_query_ms`` — :class:`Predictor`-style path: supports encoded once, then per query
  ``encode_query`` + ``decode`` (model only, input already a tensor);
* ``predictor_ms`` — ``Predictor.predict`` on a uint8 image (letterbox, model, map back, score);
* ``backbone_ms`` and ``floor_ms`` (query backbone + base learner: the least any method must do);
* ``max_abs_diff_final`` — cached vs per-episode ``final`` output (must be ≤ 1e-4).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from symnet_core.checkpoints import load_checkpoint
from symnet_core.config import SymNetConfig
from symnet_core.modeling.backbone import extract_features
from symnet_core.modeling.symnet import SymNet
from symnet_core.predictor import Predictor
from symnet_core.random_weights import seeded_state_dict
from symnet_core.transforms import Letterbox, image_to_model, mask_to_model


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return round(statistics.median(times), 1)


def _scene(size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = size
    img = rng.integers(0, 100, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    mask = ((yy - cy) / (0.25 * h)) ** 2 + ((xx - cx) / (0.2 * w)) ** 2 < 1
    img[mask] = rng.integers(140, 255, (int(mask.sum()), 3), dtype=np.uint8)
    return img, mask


def bench_shots(model: SymNet, shots: int, repeats: int, image_hw: tuple[int, int]) -> dict[str, float]:
    s = model.config.image_size
    sups = [_scene(image_hw, 100 + i) for i in range(shots)]
    query_img, _ = _scene(image_hw, 7)
    box = Letterbox.fit(*image_hw, s)
    sx = torch.stack([torch.from_numpy(image_to_model(im, box)) for im, _ in sups])[None]
    sy = torch.stack([torch.from_numpy(mask_to_model(mk, box)) for _, mk in sups])[None]
    qx = torch.from_numpy(image_to_model(query_img, box))[None]
    text = torch.linspace(-1, 1, model.config.text_dim)[None]
    out: dict[str, float] = {}
    with torch.inference_mode():
        episode = model(qx, sx, sy, text)
        out["episode_official_prior_ms"] = _median_ms(lambda: model(qx, sx, sy, text, prior="official"), repeats)
        out["episode_fast_prior_ms"] = _median_ms(lambda: model(qx, sx, sy, text), repeats)
        encoded = [model.encode_support(sx[:, i], sy[:, i], text) for i in range(shots)]

        def cached() -> torch.Tensor:
            return model.decode(model.encode_query(qx), encoded, text).final

        out["cached_query_ms"] = _median_ms(cached, repeats)
        out["max_abs_diff_final"] = float((cached() - episode.final).abs().max())
        out["backbone_ms"] = _median_ms(lambda: extract_features(model.backbone, qx, with_hyper=False), repeats)
        out["floor_ms"] = _median_ms(
            lambda: model.learner_base(extract_features(model.backbone, qx, with_hyper=False).stages[4]), repeats
        )
    predictor = Predictor(model, device="cpu")
    predictor.set_supports([im for im, _ in sups], [mk for _, mk in sups], text=text[0].numpy())
    out["predictor_ms"] = _median_ms(lambda: predictor.predict(query_img), repeats)
    out["cached_vs_episode_official"] = round(out["cached_query_ms"] / out["episode_official_prior_ms"], 3)
    out["cached_vs_episode_fast"] = round(out["cached_query_ms"] / out["episode_fast_prior_ms"], 3)
    out["cached_vs_floor"] = round(out["cached_query_ms"] / out["floor_ms"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="symnet-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: steadiest)")
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=473, help="model input S (473 PASCAL, 641 COCO)")
    parser.add_argument("--layers", type=int, default=50, choices=(50, 101))
    parser.add_argument("--checkpoint", help="time this checkpoint instead of seed-generated weights")
    parser.add_argument("--query-size", type=int, nargs=2, default=(375, 500), metavar=("H", "W"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    results: dict[str, object] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "image_size": args.image_size,
        "layers": args.layers,
        "repeats": args.repeats,
        "query_size": list(args.query_size),
        "shots": {},
    }
    for k in args.shots:
        if args.checkpoint:
            model = load_checkpoint(args.checkpoint)
        else:
            cfg = SymNetConfig(layers=args.layers, shots=k, image_size=args.image_size)
            model = SymNet(cfg)
            model.load_state_dict(seeded_state_dict(model.state_dict(), seed=0))
        model.eval()
        results["shots"][str(k)] = bench_shots(model, k, args.repeats, tuple(args.query_size))  # type: ignore[index]
        print(json.dumps({f"{k}-shot": results["shots"][str(k)]}), file=sys.stderr, flush=True)  # type: ignore[index]  # noqa: T201
    print(json.dumps(results, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
