"""Training: ``python -m symnet_core.training.train --config FILE.yaml`` (``symnet-train``).

Two stages (``stage`` in the config):

* ``base`` — the backbone and the PSPNet base learner trained together as an ordinary semantic
  segmenter of the base classes (BAM's stage 1; for the demo from scratch), with a temporary
  PSPNet auxiliary classifier on layer 3. BN layers train normally. Writes a full Sym-Net
  checkpoint (head randomly initialised) whose backbone + ``learner_base`` the meta stage loads.
* ``meta`` — episodic training of the Sym-Net head (the BAM / PFENet episodic protocol): backbone
  and base learner frozen and in eval mode (BN statistics fixed, dropout off), loss
  :func:`~symnet_core.training.losses.symnet_loss`, the base map of the ensemble excluding the
  episode's own class (``cls_type='Base'``).

Both: SGD (momentum 0.9, weight decay 1e-4; ``optim.lr`` is the effective rate, see
:mod:`symnet_core.training.config`) with poly decay per iteration, optional warm-up; batch of
``optim.batch_size`` episodes/images; validation every ``val_every`` iterations (meta: episodic
mIoU on the validation split with seed 321; base: base-class mIoU); ``best.pth`` (best
validation) and ``final.pth`` in our checkpoint format with metadata; ``last_state.pth`` for
``--resume``; ``log.csv``; progress lines with ETA. Each iteration's data and dropout are drawn
from seeds derived from ``(seed, iteration)``, so a resumed run continues exactly as an
uninterrupted one would. AMP (float16 autocast) on CUDA when ``amp: true``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from symnet_core.device import resolve_device
from symnet_core.inference.transforms import SHRINK_ONLY
from symnet_core.model.backbone import extract_features
from symnet_core.model.checkpoints import save_checkpoint
from symnet_core.model.config import SymNetConfig
from symnet_core.model.symnet import SymNet
from symnet_core.project.atomic import atomic_write_bytes, atomic_write_stream
from symnet_core.training.augment import TrainAugment, binary_foreground, semantic_foreground
from symnet_core.training.batches import BaseBatches, EpisodeBatches, iterate_batches, to_tensors
from symnet_core.training.config import TrainConfig, config_to_dict, load_config
from symnet_core.training.datasets import build_data
from symnet_core.training.evaluate import evaluate_base, evaluate_episodes
from symnet_core.training.losses import segmentation_ce, symnet_loss
from symnet_core.training.setup import (
    AttributeHeads,
    base_aux_head,
    build_optimizer,
    load_frozen_parts,
    lr_at,
    total_iterations,
)
from symnet_core.training.text import ClassTextTable, build_embedder, text_encoder_metadata

log = logging.getLogger(__name__)

__all__ = ["TrainResult", "main", "run_training"]

VAL_SEED = 321
STATE_FILE = "last_state.pth"
CSV_FIELDS = ("iteration", "epoch", "lr", "total", "main", "aux1", "aux2", "aux3", "triplet", "base_aux", "attributes",
              "val_miou", "val_fbiou", "val_miou_meta", "val_miou_prior", "seconds")  # fmt: skip


@dataclass
class TrainResult:
    """What a run produced: checkpoint paths, best validation score, iterations, wall time."""

    final: Path
    best: Path | None
    best_score: float | None
    iterations: int
    seconds: float
    last_losses: dict[str, float]



def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent, check=False)  # fmt: skip
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _fmt_time(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------


class _CsvLog:
    def __init__(self, path: Path, resume_from: int) -> None:
        self.path = path
        rows: list[dict[str, str]] = []
        if resume_from > 0 and path.is_file():
            with path.open(newline="", encoding="utf-8") as f:
                rows = [r for r in csv.DictReader(f) if int(r["iteration"]) <= resume_from]
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            w.writeheader()
            w.writerows(rows)

    def write(self, row: dict[str, Any]) -> None:
        with self.path.open("a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=CSV_FIELDS).writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in CSV_FIELDS}
            )


def run_training(
    cfg: TrainConfig,
    *,
    resume: str | Path | None = None,
    stop_after: int | None = None,
    echo: Callable[[str], None] | None = None,
    time_budget: float | None = None,
) -> TrainResult:
    """Train as configured.

    Args:
        resume: a ``last_state.pth`` to continue from (``"auto"``: the output directory's).
        stop_after: stop once this iteration is reached (the schedule still spans the configured
            length), writing ``last_state.pth`` for a later ``resume`` — for training in slices.
        time_budget: wall-clock seconds for the whole run (for a lent machine). At the end of the
            warm-up (``optim.warmup_iters`` ≥ 10) one validation is timed and ``optim.iterations``
            is lowered, if needed, so that the rest fits: the warm-up's learning rates do not
            depend on the total, so the result is the run of that config with the lowered
            iteration count, which the checkpoint's ``training_config`` records. If the run still
            overruns, it ends early as if finished (validation, ``final.pth``), marked
            ``time_capped`` in its metadata.
    """
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    try:
        return _run(cfg, resume, stop_after, echo or (lambda s: log.info("%s", s)), time_budget)
    finally:
        torch.set_num_threads(threads_before)


def _run(
    cfg: TrainConfig, resume: str | Path | None, stop_after: int | None, say: Callable[[str], None],
    time_budget: float | None = None,
) -> TrainResult:
    t_start = time.perf_counter()
    device = resolve_device(cfg.device)
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = cfg.model.shots
    data = build_data(cfg.data, shots)
    embedder = build_embedder(cfg.text)
    model_cfg = cfg.model.build(len(data.base_classes) + 1, int(embedder.dim))
    torch.manual_seed(cfg.seed)
    model = SymNet(model_cfg)
    total, per_epoch = total_iterations(cfg, len(data.train))
    text_meta = text_encoder_metadata(cfg.text, int(embedder.dim))
    say(f"[{cfg.stage}] {cfg.name}: {data.kind} data, {len(data.base_classes)} base classes, "
        f"novel {list(data.novel_classes)}; model {_describe(model_cfg)}; {total} iterations of batch "
        f"{cfg.optim.batch_size} (lr {cfg.optim.lr:g} effective, {cfg.optim.optimizer}); device {device}, "
        f"{torch.get_num_threads()} threads; output {out_dir}")  # fmt: skip

    init_meta: dict[str, Any] = {}
    if cfg.init_checkpoint:
        init_meta = load_frozen_parts(model, cfg.init_checkpoint)
        say(f"[{cfg.stage}] backbone and base learner loaded from {cfg.init_checkpoint}")
        if init_meta.get("base_classes") and list(init_meta["base_classes"]) != list(data.base_class_names):
            log.warning("base classes of %s differ from this dataset's", cfg.init_checkpoint)
    elif cfg.stage == "meta":
        log.warning("meta stage without init_checkpoint: the frozen backbone and base learner are RANDOM")

    aux_head: nn.Module | None = None
    attr_heads: AttributeHeads | None = None
    if cfg.stage == "base":
        aux_head = base_aux_head(model_cfg.stage_channels[3], model_cfg.num_base_outputs)
        extra: list[nn.Module] = [aux_head]
        if cfg.loss.attribute_weight > 0:
            if not data.attributes:
                raise ValueError("loss.attribute_weight > 0 needs a dataset with attribute tables (synthetic)")
            attr_heads = AttributeHeads(model_cfg.stage_channels[3], model_cfg.stage_channels[4], data.attributes)
            attr_heads.to(device)
            extra.append(attr_heads)
        params = [p for m in (*model.frozen_modules(), *extra) for p in m.parameters()]
        for p in model.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        aux_head.to(device)
    else:
        params = model.prepare_head_training()
    model.to(device)
    optimizer = build_optimizer(cfg, params)
    use_amp = bool(cfg.amp and device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    start_it, best_score, elapsed_before = 0, None, 0.0
    if resume is not None:
        state_path = out_dir / STATE_FILE if str(resume) == "auto" else Path(resume)
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state.get("stage") != cfg.stage:
            raise ValueError(f"{state_path} is a {state.get('stage')}-stage state, this config is {cfg.stage}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if aux_head is not None and "aux_head" in state:
            aux_head.load_state_dict(state["aux_head"])
        if attr_heads is not None and "attr_heads" in state:
            attr_heads.load_state_dict(state["attr_heads"])
        if "scaler" in state and use_amp:
            scaler.load_state_dict(state["scaler"])
        start_it, best_score = int(state["iteration"]), state.get("best_score")
        elapsed_before = float(state.get("elapsed", 0.0))
        say(f"[{cfg.stage}] resumed from {state_path} at iteration {start_it}")

    text = ClassTextTable(embedder, data.class_names) if cfg.stage == "meta" else None
    crop = cfg.augment.crop_size or model_cfg.image_size
    if cfg.stage == "meta":
        ds: torch.utils.data.Dataset = EpisodeBatches(
            data.train, data.lut, shots, cfg.optim.batch_size, TrainAugment(cfg.augment, crop, binary_foreground),
            cfg.seed, total,
        )  # fmt: skip
    else:
        ds = BaseBatches(data.train, data.lut, cfg.optim.batch_size,
                         TrainAugment(cfg.augment, crop, semantic_foreground), cfg.seed, total,
                         raw_labels=attr_heads is not None)  # fmt: skip
    csv_log = _CsvLog(out_dir / "log.csv", start_it)
    best_path = out_dir / "best.pth"
    running: dict[str, list[float]] = {}
    last_losses: dict[str, float] = {}
    t_loop = time.perf_counter()
    last_val: dict[str, float] = {}

    def save(path: Path, extra: dict[str, Any]) -> None:
        meta = {
            "stage": cfg.stage, "name": cfg.name, "training_config": config_to_dict(cfg),
            "backbone": f"ResNet-{model_cfg.layers} deep-stem dilated (output stride 8), "
                        f"width {model_cfg.backbone_width}",
            "shots": model_cfg.shots, "image_size": model_cfg.image_size, "data": data.description,
            "novel_classes": [data.class_names[c] for c in data.novel_classes],
            "resize_mode": SHRINK_ONLY,  # the letterbox of validation (letterbox_sample)
            "git_commit": _git_commit(), "torch_version": torch.__version__, **extra,
        }  # fmt: skip
        save_checkpoint(model, path, dataset=data.kind, text_encoder=text_meta, base_classes=data.base_class_names,
                        metadata=json.loads(json.dumps(meta)))  # fmt: skip

    def train_figures(it: int) -> dict[str, Any]:
        wall = round(elapsed_before + time.perf_counter() - t_start, 1)
        return {"iterations": it, "total_iterations": total, "wall_time_s": wall,
                "process_cpu_time_s": round(time.process_time(), 1), "device": str(device),
                "threads": torch.get_num_threads(), "time_budget": budget_note or None,
                "last_losses": last_losses, "init_checkpoint": cfg.init_checkpoint,
                "init_val": init_meta.get("val")}  # fmt: skip

    def validate(it: int) -> None:
        nonlocal best_score, last_val
        tv = time.perf_counter()
        if cfg.stage == "meta":
            assert text is not None
            r = evaluate_episodes(
                model, data.val, text, data.lut, episodes=cfg.val_episodes, seed=VAL_SEED, shots=shots,
                batch_size=cfg.eval.batch_size, class_names=data.class_names,
            )  # fmt: skip
            last_val = {"miou": r.miou, "fbiou": r.fbiou, "miou_meta": r.miou_meta, "miou_prior": r.miou_prior}
            score = r.miou
            msg = (f"mIoU {r.miou:.4f} FB-IoU {r.fbiou:.4f} (meta-only {r.miou_meta:.4f}, SPM prior "
                   f"{r.miou_prior:.4f}) on {cfg.val_episodes} val episodes")  # fmt: skip
        else:
            b = evaluate_base(model, data.base_val, data.lut, images=cfg.val_episodes, batch_size=cfg.eval.batch_size)
            last_val = {"miou": b["miou"], "miou_with_bg": b["miou_with_bg"], "pixel_acc": b["pixel_acc"]}
            score = b["miou"]
            msg = (f"base-class mIoU {b['miou']:.4f} (with background {b['miou_with_bg']:.4f}, "
                   f"pixel acc {b['pixel_acc']:.4f})")  # fmt: skip
        improved = best_score is None or score > best_score
        if improved:
            best_score = score
            save(best_path, {"train": train_figures(it), "val": {**last_val, "episodes": cfg.val_episodes,
                                                                   "seed": VAL_SEED, "iteration": it}})  # fmt: skip
        say(f"[{cfg.stage}] val @ it {it}: {msg}; best {best_score:.4f}{' (saved best.pth)' if improved else ''} "
            f"[{time.perf_counter() - tv:.0f} s]")  # fmt: skip
        csv_log.write({"iteration": it, "epoch": round(it / per_epoch, 3), "val_miou": score,
                       "val_fbiou": last_val.get("fbiou", ""), "val_miou_meta": last_val.get("miou_meta", ""),
                       "val_miou_prior": last_val.get("miou_prior", ""),
                       "seconds": round(elapsed_before + time.perf_counter() - t_start, 1)})  # fmt: skip

    def save_state(it: int) -> None:
        state = {"stage": cfg.stage, "iteration": it, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "best_score": best_score, "elapsed": elapsed_before + time.perf_counter() - t_start,
                 "config": json.dumps(config_to_dict(cfg))}  # fmt: skip
        if aux_head is not None:
            state["aux_head"] = aux_head.state_dict()
        if attr_heads is not None:
            state["attr_heads"] = attr_heads.state_dict()
        if use_amp:
            state["scaler"] = scaler.state_dict()
        atomic_write_stream(out_dir / STATE_FILE, lambda f: torch.save(state, f))

    stop = total if stop_after is None else max(start_it, min(total, int(stop_after)))
    # time budget: calibrate at the end of the warm-up (module docstring of run_training)
    budget_note: dict[str, Any] = {}
    calibrate_at = cfg.optim.warmup_iters if cfg.optim.warmup_iters >= 10 else 20
    t_calib_from: float | None = None
    it = start_it
    batches = iterate_batches(ds, start_it, stop, cfg.num_workers, pin_memory=device.type == "cuda")
    for it, batch_np in enumerate(batches, start=start_it):
        lr = lr_at(it, total, cfg.optim.lr, cfg.optim.power, cfg.optim.warmup_iters)
        for g in optimizer.param_groups:
            g["lr"] = lr
        torch.manual_seed(cfg.seed * 1_000_003 + it)
        batch = to_tensors(batch_np, device)
        autocast = torch.autocast("cuda", dtype=torch.float16) if use_amp else nullcontext()
        with autocast:
            if cfg.stage == "meta":
                model.head_train_mode()
                terms = _meta_step(model, batch, text, cfg)  # type: ignore[arg-type]
                loss, values = terms.total, terms.as_floats()
            else:
                model.train()
                assert aux_head is not None
                aux_head.train()
                loss, values = _base_step(model, aux_head, attr_heads, batch, cfg)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.optim.grad_clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        if not math.isfinite(values["total"]):
            raise FloatingPointError(f"loss is {values['total']} at iteration {it}; lower optim.lr")
        for k, v in values.items():
            running.setdefault(k, []).append(v)
        done = it + 1
        if done % cfg.log_every == 0 or done == total:
            last_losses = {k: float(np.mean(v)) for k, v in running.items()}
            running = {}
            spent = time.perf_counter() - t_loop
            per_it = spent / max(done - start_it, 1)
            parts = " ".join(f"{k} {v:.4f}" for k, v in last_losses.items())
            say(f"[{cfg.stage}] it {done}/{total} ({100 * done / total:.0f}%) {parts} | lr {lr:.5f} | {per_it:.2f} s/it"
                f" | elapsed {_fmt_time(elapsed_before + time.perf_counter() - t_start)} ETA "
                f"{_fmt_time(per_it * (total - done))}")  # fmt: skip
            csv_log.write({"iteration": done, "epoch": round(done / per_epoch, 3), "lr": lr, **last_losses,
                           "seconds": round(elapsed_before + time.perf_counter() - t_start, 1)})  # fmt: skip
        if cfg.val_every and done % cfg.val_every == 0 and done != total:
            validate(done)
        if cfg.save_every and done % cfg.save_every == 0 and done != total:
            save_state(done)
        if time_budget is not None:
            if done == start_it + calibrate_at // 3:
                t_calib_from = time.perf_counter()
            elif done == start_it + calibrate_at and t_calib_from is not None and done < total:
                per_it = (time.perf_counter() - t_calib_from) / (calibrate_at - calibrate_at // 3)
                tv0 = time.perf_counter()
                validate(done)
                t_val = time.perf_counter() - tv0
                left = 0.8 * (time_budget - (time.perf_counter() - t_start)) - 2 * t_val - min(10.0, 0.05 * time_budget)
                per_it_all = per_it + (t_val / cfg.val_every if cfg.val_every else 0.0)
                fits = done + max(0, int(left / per_it_all))
                budget_note = {"seconds": time_budget, "calibrated_at": done, "s_per_it": round(per_it, 4),
                               "validation_s": round(t_val, 2), "configured_iterations": total}  # fmt: skip
                if fits < total:
                    total = stop = max(fits, done + 1)
                    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, iterations=total))
                    budget_note["iterations"] = total
                    say(f"[{cfg.stage}] time budget {time_budget:.0f} s: {per_it:.3f} s/it, validation "
                        f"{t_val:.1f} s -> {total} iterations (optim.iterations lowered)")  # fmt: skip
                else:
                    say(f"[{cfg.stage}] time budget {time_budget:.0f} s: {per_it:.3f} s/it, the configured "
                        f"{total} iterations fit")  # fmt: skip
            if done >= stop:
                break
            if time.perf_counter() - t_start > time_budget:
                budget_note["time_capped"] = True
                say(f"[{cfg.stage}] time budget of {time_budget:.0f} s spent at iteration {done}: ending the run here")
                total = stop = done
                cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, iterations=total))
                budget_note["iterations"] = total  # what ran, also when the calibrated count did not fit
                break
    if hasattr(batches, "close"):
        batches.close()  # ends the loader's workers when the loop stopped early
    done = it + 1 if stop > start_it else start_it
    if done < total:
        save_state(done)
        say(f"[{cfg.stage}] stopped at iteration {done}/{total}; continue with --resume")
        return TrainResult(out_dir / "final.pth", best_path if best_path.is_file() else None, best_score, done,
                           elapsed_before + time.perf_counter() - t_start, last_losses)  # fmt: skip
    validate(done)
    save_state(done)
    final_path = out_dir / "final.pth"
    save(final_path, {"train": train_figures(done), "val": {**last_val, "episodes": cfg.val_episodes,
                                                             "seed": VAL_SEED, "iteration": done}})  # fmt: skip
    seconds = elapsed_before + time.perf_counter() - t_start
    summary = {"final": str(final_path), "best": str(best_path), "best_val": best_score, "last_val": last_val,
               "iterations": done, "wall_time_s": round(seconds, 1),
               "process_cpu_time_s": round(time.process_time(), 1), "threads": torch.get_num_threads(),
               "last_losses": last_losses}  # fmt: skip
    atomic_write_bytes(out_dir / "summary.json", json.dumps(summary, indent=1).encode("utf-8"))
    say(f"[{cfg.stage}] done: {done} iterations in {_fmt_time(seconds)} (process CPU time "
        f"{_fmt_time(time.process_time())}); best val {best_score:.4f}; "
        f"wrote {final_path} and {best_path}")  # fmt: skip
    return TrainResult(final_path, best_path if best_path.is_file() else None, best_score, done, seconds, last_losses)


def _describe(c: SymNetConfig) -> str:
    bins = list(c.pyramid_bins or ())
    return (f"ResNet-{c.layers} width {c.backbone_width}, reduce_dim {c.reduce_dim}, input {c.image_size} "
            f"(grid {c.feature_size}, bins {bins}), {c.shots}-shot, text {c.text_dim}-d")  # fmt: skip


def _meta_step(model: SymNet, b: dict[str, torch.Tensor], text: ClassTextTable, cfg: TrainConfig) -> Any:
    tv = text.lookup(b["class_ids"].cpu()).to(b["query"].device)
    sup, sl = b["supports"], b["support_labels"].float()
    shots = [model.encode_support(sup[:, k], sl[:, k], tv) for k in range(sup.shape[1])]
    q = model.encode_query(b["query"])
    out = model.decode(q, shots, tv, return_aux=True, exclude_base_class=b["base_index"])
    return symnet_loss(out, shots, b["y"].long(), b["y_base"].long(), sl, aux_weight=cfg.loss.aux_weight,
                       margin=cfg.loss.triplet_margin, triplet=cfg.loss.triplet)  # fmt: skip


def _base_step(
    model: SymNet, aux_head: nn.Module, attr_heads: AttributeHeads | None, b: dict[str, torch.Tensor],
    cfg: TrainConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    x, y = b["image"], b["label"].long()
    feats = extract_features(model.backbone, x, with_hyper=False)
    logits = model.learner_base(feats.stages[4])
    main = segmentation_ce(F.interpolate(logits, size=y.shape[-2:], mode="bilinear", align_corners=True), y)
    aux = segmentation_ce(aux_head(feats.stages[3]), y)
    total = main + cfg.loss.base_aux_weight * aux
    values = {"main": float(main.detach()), "base_aux": float(aux.detach())}
    if attr_heads is not None:
        attr = attr_heads.loss(feats.stages[3], feats.stages[4], b["raw"])
        total = total + cfg.loss.attribute_weight * attr
        values["attributes"] = float(attr.detach())
    return total, {"total": float(total.detach()), **values}


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="symnet-train", description="Train Sym-Net (base or meta stage) from YAML.")
    p.add_argument("--config", required=True, help="YAML file (see docs/training.md)")
    p.add_argument("--resume", nargs="?", const="auto", help="continue from last_state.pth (default: the output dir's)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.iterations=100 (repeatable)")  # fmt: skip
    p.add_argument("--stop-after", type=int, metavar="N", help="stop at iteration N (resumable): train in slices")
    p.add_argument("--output-dir", help="override output_dir")
    p.add_argument("--device", help="override device (auto, cpu, cuda, ...)")
    p.add_argument("--quiet", action="store_true", help="warnings only")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="wall-clock budget of the run: fewer iterations if needed (see run_training)")  # fmt: skip
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``symnet-train`` entry point."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    overrides = list(args.set)
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    if args.device:
        overrides.append(f"device={args.device}")
    cfg = load_config(args.config, overrides)
    echo = None if args.quiet else (lambda s: print(s, flush=True))  # noqa: T201 - progress lines
    run_training(cfg, resume=args.resume, stop_after=args.stop_after, echo=echo, time_budget=args.time_budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
