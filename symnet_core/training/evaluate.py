"""Episodic evaluation (spec §2.3): ``python -m symnet_core.training.evaluate`` (``symnet-eval``).

Protocol: one run per seed; a run draws ``episodes`` episodes, query items taken in list order
(wrapping around), the class and the K supports drawn from ``numpy.random.default_rng(seed)``.
Query and supports go through the evaluation letterbox (longer side → S when larger, both sides
floored to a multiple of 8, top-left on an S×S canvas, image padding 0, label padding 255) and are
scored on that canvas with padding ignored.

Scores, each for the ensemble (argmax of ``final``), the meta learner alone (argmax of ``meta``)
and the parameter-free SPM prior alone (``aux["prior"]`` bilinearly upsampled to S×S,
foreground where > 0.5):

* mIoU — per class, IoU = Σ_episodes foreground intersection / Σ_episodes foreground union over
  the episodes of that class; the mean over the split's classes;
* FB-IoU — mean of the background IoU and the foreground IoU, each accumulated over all episodes.

Runs use fixed seeds (config ``eval.seeds``, printed), so two invocations give identical numbers
on the same machine and thread count.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from symnet_core.inference.transforms import IGNORE_LABEL
from symnet_core.model.symnet import SymNet
from symnet_core.project.atomic import atomic_write_bytes
from symnet_core.training.augment import letterbox_sample
from symnet_core.training.datasets import EpisodeSplit, FewShotData, RawEpisode, sample_episode
from symnet_core.training.text import ClassTextTable

log = logging.getLogger(__name__)

__all__ = ["EvalResult", "IoUAccumulator", "episode_tensors", "evaluate_base", "evaluate_episodes", "main"]

DEFAULT_EPISODES = {"pascal": 1000, "coco": 5000}
METHODS = ("ensemble", "meta", "prior")


class IoUAccumulator:
    """Accumulates foreground/background intersections and unions per class over episodes."""

    def __init__(self, classes: Sequence[int]) -> None:
        self.classes = tuple(int(c) for c in classes)
        self.inter = dict.fromkeys(self.classes, 0)
        self.union = dict.fromkeys(self.classes, 0)
        self.count = dict.fromkeys(self.classes, 0)
        self.fb_inter = [0, 0]
        self.fb_union = [0, 0]

    def update(self, pred: torch.Tensor, target: torch.Tensor, class_ids: Sequence[int]) -> None:
        """pred: [B,S,S] 0/1; target: [B,S,S] 0/1/255; class_ids: B dataset ids."""
        valid = target != IGNORE_LABEL
        p1, t1 = (pred == 1) & valid, (target == 1) & valid
        p0, t0 = (pred == 0) & valid, (target == 0) & valid
        fi = (p1 & t1).flatten(1).sum(1).tolist()
        fu = (p1 | t1).flatten(1).sum(1).tolist()
        bi = (p0 & t0).flatten(1).sum(1).tolist()
        bu = (p0 | t0).flatten(1).sum(1).tolist()
        for c, i, u, i0, u0 in zip(class_ids, fi, fu, bi, bu, strict=True):
            c = int(c)
            if c not in self.inter:
                self.inter[c] = self.union[c] = self.count[c] = 0
            self.inter[c] += int(i)
            self.union[c] += int(u)
            self.count[c] += 1
            self.fb_inter[1] += int(i)
            self.fb_union[1] += int(u)
            self.fb_inter[0] += int(i0)
            self.fb_union[0] += int(u0)

    def class_iou(self) -> dict[int, float]:
        """IoU of every class that had at least one episode."""
        return {c: self.inter[c] / max(self.union[c], 1) for c in self.inter if self.count[c] > 0}

    def miou(self) -> float:
        ious = self.class_iou()
        return float(np.mean(list(ious.values()))) if ious else 0.0

    def fbiou(self) -> float:
        return float(np.mean([self.fb_inter[k] / max(self.fb_union[k], 1) for k in (0, 1)]))


@dataclass
class EvalResult:
    """Scores of one evaluation run.

    Attributes:
        seed, episodes, shots: run settings. miou/fbiou: ensemble; ``*_meta``: meta-only;
        ``*_prior``: SPM-prior baseline. per_class: ``{class name: IoU}`` (ensemble).
        seconds: wall time of the run.
    """

    seed: int
    episodes: int
    shots: int
    miou: float
    fbiou: float
    miou_meta: float
    fbiou_meta: float
    miou_prior: float
    fbiou_prior: float
    per_class: dict[str, float] = field(default_factory=dict)
    per_class_meta: dict[str, float] = field(default_factory=dict)
    per_class_prior: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"seed {self.seed}: mIoU {self.miou:.4f} FB-IoU {self.fbiou:.4f} | meta-only mIoU {self.miou_meta:.4f} "
            f"FB-IoU {self.fbiou_meta:.4f} | SPM-prior baseline mIoU {self.miou_prior:.4f} FB-IoU "
            f"{self.fbiou_prior:.4f} ({self.episodes} episodes, {self.shots}-shot, {self.seconds:.0f} s)"
        )


def episode_tensors(
    episodes: Sequence[RawEpisode], size: int, text: ClassTextTable, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Letterboxed tensors of a list of episodes.

    Returns (query [B,3,S,S] float32, query labels [B,S,S] long 0/1/255, supports [B,K,3,S,S],
    support labels [B,K,S,S] float32, text vectors [B,D]).
    """
    qs, ys, ss, sl = [], [], [], []
    for ep in episodes:
        q, (y,) = letterbox_sample(ep.query_image, [ep.query_label], size)
        qs.append(q)
        ys.append(y)
        imgs, labs = [], []
        for img, lab in zip(ep.support_images, ep.support_labels, strict=True):
            s, (m,) = letterbox_sample(img, [lab], size)
            imgs.append(s)
            labs.append(m)
        ss.append(np.stack(imgs))
        sl.append(np.stack(labs))
    to = lambda a: torch.from_numpy(np.stack(a)).to(device)  # noqa: E731
    tv = text.lookup([ep.class_id for ep in episodes]).to(device)
    return to(qs), to(ys).long(), to(ss), to(sl).float(), tv


@torch.no_grad()
def evaluate_episodes(
    model: SymNet,
    split: EpisodeSplit,
    text: ClassTextTable,
    lut: np.ndarray,
    *,
    episodes: int,
    seed: int,
    shots: int | None = None,
    batch_size: int = 8,
    prior: str = "fast",
    class_names: dict[int, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """One evaluation run of ``episodes`` episodes with ``seed`` (see the module docstring)."""
    model.eval()
    device = next(model.parameters()).device
    k = shots or model.config.shots
    size = model.config.image_size
    rng = np.random.default_rng(seed)
    accs = {m: IoUAccumulator(split.classes) for m in METHODS}
    start = time.perf_counter()
    done = 0
    while done < episodes:
        n = min(batch_size, episodes - done)
        eps = [sample_episode(split, done + i, rng, k, lut) for i in range(n)]
        query, y, sup, sup_lab, tv = episode_tensors(eps, size, text, device)
        keep = prior == "official"
        encoded = [model.encode_support(sup[:, j], sup_lab[:, j], tv, keep_layer4=keep) for j in range(k)]
        q = model.encode_query(query, with_base=True)
        out = model.decode(q, encoded, tv, return_aux=True, prior=prior)
        prior_map = out.aux["prior"]
        assert isinstance(prior_map, torch.Tensor)
        prior_up = F.interpolate(prior_map, size=(size, size), mode="bilinear", align_corners=True)[:, 0]
        ids = [ep.class_id for ep in eps]
        accs["ensemble"].update(out.final.argmax(1).cpu(), y.cpu(), ids)
        accs["meta"].update(out.meta.argmax(1).cpu(), y.cpu(), ids)
        accs["prior"].update((prior_up > 0.5).long().cpu(), y.cpu(), ids)
        done += n
        if progress is not None:
            progress(done, episodes)
    names = class_names or {}

    def named(acc: IoUAccumulator) -> dict[str, float]:
        return {names.get(c, str(c)): round(v, 6) for c, v in sorted(acc.class_iou().items())}

    return EvalResult(
        seed=seed,
        episodes=episodes,
        shots=k,
        miou=accs["ensemble"].miou(),
        fbiou=accs["ensemble"].fbiou(),
        miou_meta=accs["meta"].miou(),
        fbiou_meta=accs["meta"].fbiou(),
        miou_prior=accs["prior"].miou(),
        fbiou_prior=accs["prior"].fbiou(),
        per_class=named(accs["ensemble"]),
        per_class_meta=named(accs["meta"]),
        per_class_prior=named(accs["prior"]),
        seconds=time.perf_counter() - start,
    )


@torch.no_grad()
def evaluate_base(
    model: SymNet, split: EpisodeSplit, lut: np.ndarray, *, images: int, batch_size: int = 8
) -> dict[str, float]:
    """Base learner as a semantic segmenter on ``images`` items of ``split`` (letterboxed).

    Returns ``{"miou": mean IoU over the base classes, "miou_with_bg": including background,
    "pixel_acc": ...}`` from one confusion matrix over all images.
    """
    from symnet_core.model.backbone import extract_features

    model.eval()
    device = next(model.parameters()).device
    n_out = model.config.num_base_outputs
    size = model.config.image_size
    conf = torch.zeros(n_out, n_out, dtype=torch.long)
    if not split.data_list:
        return {"miou": 0.0, "miou_with_bg": 0.0, "pixel_acc": 0.0}
    items = [split.data_list[i][0] for i in range(min(images, len(split)))]
    for start in range(0, len(items), batch_size):
        xs, ys = [], []
        for i in items[start : start + batch_size]:
            img, lab = split.source.load(i)
            x, (y,) = letterbox_sample(img, [lut[lab]], size)
            xs.append(x)
            ys.append(y)
        x = torch.from_numpy(np.stack(xs)).to(device)
        y = torch.from_numpy(np.stack(ys)).long()
        feats = extract_features(model.backbone, x, with_hyper=False)
        logits = model.learner_base(feats.stages[4])
        pred = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=True).argmax(1).cpu()
        valid = y != IGNORE_LABEL
        conf += torch.bincount(y[valid] * n_out + pred[valid], minlength=n_out * n_out).reshape(n_out, n_out)
    inter = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - inter
    present = conf.sum(1) > 0
    iou = inter / union.clamp_min(1)
    fg = present.clone()
    fg[0] = False
    return {
        "miou": float(iou[fg].mean()) if bool(fg.any()) else 0.0,
        "miou_with_bg": float(iou[present].mean()) if bool(present.any()) else 0.0,
        "pixel_acc": float(inter.sum() / conf.sum().clamp_min(1)),
    }


def summarise(results: Sequence[EvalResult]) -> dict[str, float]:
    """Mean of every score over runs."""
    keys = ("miou", "fbiou", "miou_meta", "fbiou_meta", "miou_prior", "fbiou_prior")
    return {k: float(np.mean([getattr(r, k) for r in results])) for k in keys}


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def run_evaluation(
    config_path: str | None,
    checkpoint: str,
    *,
    overrides: Sequence[str] = (),
    episodes: int | None = None,
    seeds: Sequence[int] | None = None,
    split: str | None = None,
    shots: int | None = None,
    device: str | None = None,
    threads: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the data of a training config; return the JSON-ready report."""
    from symnet_core.training.config import load_config

    cfg = load_config(config_path, overrides)
    n_threads = threads if threads is not None else cfg.threads
    threads_before = torch.get_num_threads()
    if n_threads:
        torch.set_num_threads(int(n_threads))
    try:
        return _evaluate(cfg, checkpoint, episodes, seeds, split, shots, device, echo)
    finally:
        torch.set_num_threads(threads_before)


def _evaluate(
    cfg: Any,
    checkpoint: str,
    episodes: int | None,
    seeds: Sequence[int] | None,
    split: str | None,
    shots: int | None,
    device: str | None,
    echo: Callable[[str], None] | None,
) -> dict[str, Any]:
    from symnet_core.device import resolve_device
    from symnet_core.model.checkpoints import load_checkpoint
    from symnet_core.training.config import config_to_dict
    from symnet_core.training.datasets import build_data
    from symnet_core.training.text import build_embedder

    dev = resolve_device(device or cfg.device)
    model = load_checkpoint(checkpoint, dev)
    k = shots or model.config.shots
    if k > 1 and model.config.shots != k:
        raise ValueError(f"the checkpoint is a {model.config.shots}-shot model; it cannot run {k} shots natively")
    data: FewShotData = build_data(cfg.data, k)
    embedder = build_embedder(cfg.text)
    if embedder.dim != model.config.text_dim:
        raise ValueError(f"text encoder gives {embedder.dim}-d vectors, the model expects {model.config.text_dim}")
    if model.config.num_base_outputs != len(data.base_classes) + 1:
        raise ValueError(
            f"the model's base learner has {model.config.num_base_outputs - 1} classes, the dataset "
            f"{len(data.base_classes)} base classes"
        )
    text = ClassTextTable(embedder, data.class_names)
    split_name = split or (cfg.eval.split if data.kind == "synthetic" else "val")
    es = data.split(split_name)
    n_eps = episodes or cfg.eval.episodes or DEFAULT_EPISODES.get(data.kind, 1000)
    run_seeds = tuple(seeds) if seeds else cfg.eval.seeds
    say = echo or (lambda s: None)
    say(f"evaluating {checkpoint} on {data.kind} {split_name} ({len(es.classes)} classes), {k}-shot, "
        f"{n_eps} episodes per run, seeds {list(run_seeds)}, device {dev}, "
        f"{torch.get_num_threads()} threads")  # fmt: skip
    results = []
    for s in run_seeds:
        r = evaluate_episodes(model, es, text, data.lut, episodes=n_eps, seed=s, shots=k,
                              batch_size=cfg.eval.batch_size, prior=cfg.eval.prior,
                              class_names=data.class_names)  # fmt: skip
        say(r.line())
        results.append(r)
    mean = summarise(results)
    say(
        f"mean over {len(results)} run(s): mIoU {mean['miou']:.4f} FB-IoU {mean['fbiou']:.4f} | meta-only mIoU "
        f"{mean['miou_meta']:.4f} FB-IoU {mean['fbiou_meta']:.4f} | SPM-prior baseline mIoU {mean['miou_prior']:.4f} "
        f"FB-IoU {mean['fbiou_prior']:.4f}"
    )
    return {
        "checkpoint": str(checkpoint),
        "dataset": data.description,
        "split": split_name,
        "shots": k,
        "episodes": n_eps,
        "seeds": list(run_seeds),
        "runs": [asdict(r) for r in results],
        "mean": mean,
        "config": config_to_dict(cfg),
        "device": str(dev),
        "threads": torch.get_num_threads(),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="symnet-eval", description="Episodic mIoU / FB-IoU of a Sym-Net checkpoint.")
    p.add_argument("--config", required=True, help="training YAML (data, text and eval sections are used)")
    p.add_argument("--checkpoint", required=True, help="model file (our format or the authors')")
    p.add_argument("--episodes", type=int, help="episodes per run (default: config, else 1000 PASCAL / 5000 COCO)")
    p.add_argument("--seeds", help="comma-separated seeds, one run each (default: config eval.seeds)")
    p.add_argument("--split", choices=("val", "test", "train"), help="query list (synthetic default: test)")
    p.add_argument("--shots", type=int, help="K (default: the checkpoint's)")
    p.add_argument("--device", help="auto, cpu, cuda, ...")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--json", help="also write the report to this file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    p.add_argument("--quiet", action="store_true", help="print only the JSON report")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``symnet-eval`` entry point: prints one line per seed, the mean, then the JSON report."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    echo = None if args.quiet else (lambda s: print(s, flush=True))  # noqa: T201 - progress lines
    report = run_evaluation(
        args.config, args.checkpoint, overrides=args.set, episodes=args.episodes, seeds=seeds, split=args.split,
        shots=args.shots, device=args.device, threads=args.threads, echo=echo,
    )  # fmt: skip
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.json, text.encode("utf-8"))
    summary = {"mean": report["mean"], "episodes": report["episodes"], "seeds": report["seeds"]}
    print(text if args.quiet else json.dumps(summary))  # noqa: T201 - the CLI's output
    return 0


if __name__ == "__main__":
    sys.exit(main())
